/**
 * Ringside with CRM=salesforce, end to end through the real server: a SIP call into Alice pops
 * the caller's Salesforce contact in her browser and becomes exactly one call Task in the org
 * (owned by her Salesforce user); a wrong setting shows on /readyz instead of crashing the server;
 * the call center file names this server's softphone.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeAppKeys, SalesforceStandIn, type AppKeys } from '../../../test/support/salesforce/index.ts';
import { HttpClient, startServer, type TestServer } from '../../../test/support/server.ts';
import { waitFor } from '../../../test/support/wait.ts';
import { WeriftPeer } from '../../../test/support/werift-peer.ts';
import { WsSipClient } from '../../../test/support/ws-sip-client.ts';
import type { ScreenPopMessage } from '../../calls/index.ts';

const INTEGRATION = 'ringside-integration@acme.example';
const CLIENT_ID = '3MVG9-ringside-e2e-consumer-key';

describe('Ringside with Salesforce as its CRM', () => {
  let keys: AppKeys;
  let org: SalesforceStandIn;
  let server: TestServer;
  let jane: string;
  let acme: string;

  const env = (over: Record<string, string> = {}) => ({
    CRM: 'salesforce',
    SALESFORCE_LOGIN_URL: org.url,
    SALESFORCE_CLIENT_ID: CLIENT_ID,
    SALESFORCE_USERNAME: INTEGRATION,
    SALESFORCE_PRIVATE_KEY_FILE: keys.privateKeyFile,
    SALESFORCE_BATCH_WINDOW_MS: '200',
    SIP_RING_TIMEOUT_S: '5',
    ...over,
  });

  beforeAll(async () => {
    keys = makeAppKeys();
    org = await SalesforceStandIn.start({ clientId: CLIENT_ID, certificate: keys.certificatePem, usernames: [INTEGRATION] });
    acme = org.seed('Account', { Name: 'Acme Corp', Phone: '+1 415 555 0100' }, { indexed: true });
    jane = org.seed('Contact', { FirstName: 'Jane', LastName: 'Doe', Title: 'VP Sales', AccountId: acme, Phone: '(415) 555-0134' }, { indexed: true });
    org.addUser('alice.sf@acme.example', 'alice@example.com', 'Alice Agent');
    server = await startServer({ env: env({ LOG_LEVEL: process.env.SF_LOG ?? 'silent' }) });
  });
  afterAll(async () => {
    await server?.stop();
    await org?.close();
    if (keys) rmSync(keys.dir, { recursive: true, force: true });
  });

  it('pops the Salesforce contact for a call into Alice and logs it as exactly one call Task on it', async () => {
    await waitFor(async () => ((await (await fetch(`${server.url}/readyz`)).json()) as { checks?: { salesforce_sync?: { state?: string } } }).checks?.salesforce_sync?.state === 'ready', {
      timeoutMs: 20_000,
      what: 'the initial sync',
    });
    const alice = new HttpClient(server.url);
    await alice.login('alice@example.com');
    const ws = await WsSipClient.connect(`${server.url.replace('http', 'ws')}/sip`, { user: 'alice', password: 'unused', domain: '127.0.0.1', headers: { cookie: `rs_session=${alice.cookie('rs_session')}` } });
    try {
      expect((await ws.register()).status).toBe(200);
      const lookups = org.apiCalls;
      const test = server.ringside.sip.testCall({ to: 'alice', from: '+14155550134', durationS: 1 });
      const invite = await ws.nextRequest('INVITE');
      const message = await ws.nextRequest('MESSAGE');
      ws.respond(message, 200);
      const pop = JSON.parse(message.body.toString()) as ScreenPopMessage;
      expect(pop.matches[0]).toMatchObject({ type: 'contact', id: jane, name: 'Jane Doe', title: 'VP Sales', account: 'Acme Corp', url: `${org.url}/lightning/r/Contact/${jane}/view` });
      // The caller was found in the local mirror: the ring cost Salesforce nothing.
      expect(org.apiCalls).toBe(lookups);
      // The test caller speaks RTP; the relay offers the browser WebRTC, which a real peer answers.
      const peer = new WeriftPeer();
      ws.respond(invite, 200, { toTag: 'sf1', sdp: Buffer.from(await peer.answer(invite.body.toString())) });
      const bye = await ws.nextRequest('BYE'); // the caller hangs up after 1 s
      ws.respond(bye, 200);
      await peer.close();
      await test;
      const task = await waitFor(() => org.list('Task')[0], { timeoutMs: 10_000, what: 'the Task in Salesforce' });
      expect(task).toMatchObject({
        TaskSubtype: 'Call',
        CallType: 'Inbound',
        CallDisposition: 'Answered',
        Status: 'Completed',
        WhoId: jane,
        WhatId: acme,
        OwnerId: org.userId('alice.sf@acme.example'),
        CallObject: expect.stringMatching(new RegExp(`^call:${pop.call_id}:`)),
        ActivityDate: new Date().toISOString().slice(0, 10),
      });
      expect(task.CallDurationInSeconds).toBeGreaterThanOrEqual(1);
      expect(task.Subject).toBe('Inbound call from Jane Doe (+1 415 555 0134)');
      expect(String(task.Description)).toContain('Answered on the browser.');
      // Nothing more arrives: exactly one Task for the call.
      await waitFor(async () => (await server.ringside.outbox.undelivered()).length === 0, { what: 'the outbox to be empty' });
      expect(org.list('Task')).toHaveLength(1);
    } finally {
      await ws.close();
    }
  });

  it('logs a click-to-dial call on the Salesforce record it was dialled from', async () => {
    // Sam has no phone of the number dialled: only the record context can put the Task on him.
    const sam = org.seed('Contact', { FirstName: 'Sam', LastName: 'Context', AccountId: acme }, { indexed: true });
    const alice = new HttpClient(server.url);
    await alice.login('alice@example.com');
    const ws = await WsSipClient.connect(`${server.url.replace('http', 'ws')}/sip`, { user: 'alice', password: 'unused', domain: '127.0.0.1', headers: { cookie: `rs_session=${alice.cookie('rs_session')}` } });
    const { TestPhone } = await import('../../../test/support/sip-phone.ts');
    const bob = await TestPhone.start({ user: 'bob', password: 'ringside-demo', domain: '127.0.0.1', server: { address: '127.0.0.1', port: server.ringside.sip.ports.udp! } });
    try {
      expect((await ws.register()).status).toBe(200);
      await bob.register();
      const before = org.list('Task').length;
      const { SipRequest, parseUri } = await import('../../sip/index.ts');
      const response = await ws.request((cseq) => {
        const r = new SipRequest('INVITE', parseUri('sip:1002@127.0.0.1'));
        r.setHeader('From', `<sip:alice@127.0.0.1>;tag=sf${cseq}`);
        r.setHeader('To', '<sip:1002@127.0.0.1>');
        r.setHeader('Call-ID', `sf-click-to-dial-${Date.now()}@ws`);
        r.setHeader('CSeq', `${cseq} INVITE`);
        r.setHeader('Contact', ws.contact);
        r.setHeader('Max-Forwards', '70');
        r.setHeader('X-Ringside-Record', `contact:${sam}`); // a Salesforce id: case-sensitive, 18 characters
        r.setHeader('Content-Type', 'application/sdp');
        r.body = Buffer.from('v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n');
        return r;
      });
      expect(response.status).toBe(200);
      await bob.hangUpIncoming();
      const bye = await ws.nextRequest('BYE');
      ws.respond(bye, 200);
      const task = await waitFor(() => org.list('Task').slice(before).find((t) => t.CallType === 'Outbound'), { timeoutMs: 10_000, what: 'the Task of the click-to-dial call' });
      expect(task).toMatchObject({ WhoId: sam, WhatId: acme, OwnerId: org.userId('alice.sf@acme.example') });
    } finally {
      await bob.close();
      await ws.close();
    }
  });

  it('shows administrators the connection, the mirror and the API budget on /admin/salesforce', async () => {
    const admin = new HttpClient(server.url);
    await admin.login('admin@example.com');
    const page = await admin.get('/admin/salesforce');
    expect(page.status).toBe(200);
    expect(page.text).toContain('<p id="sf-status" data-ok="true">Connected</p>');
    expect(page.text).toMatch(/<p id="sf-sync-progress" data-state="ready">Ready: 2 records mirrored; last change fetched \d{4}-\d\d-\d\d/);
    expect(page.text).toMatch(/<p id="sf-api-usage">\d+ of 100,000 daily API requests used<\/p>/);
    expect(page.text).toContain('Nothing: every call is logged.');
    // Administrators find it in the navigation, beside Users.
    expect((await admin.get('/contacts')).text).toMatch(/<a href="\/admin\/salesforce"[^>]*>Salesforce<\/a>/);
    const agent = new HttpClient(server.url);
    await agent.login('bob@example.com');
    expect((await agent.get('/admin/salesforce')).status).toBe(403);
  });

  it('serves the call center file with this server’s softphone URL', async () => {
    const res = await fetch(`${server.url}/salesforce/callcenter.xml`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/xml/);
    const xml = await res.text();
    expect(xml).toContain(`<item sortOrder="2" name="reqAdapterUrl" label="CTI Adapter URL">${server.url}/salesforce/softphone</item>`);
    expect(xml).toContain('>Lightning</item>');
  });

  it('reports a wrong Salesforce setting on /readyz and keeps serving', async () => {
    const bad = await startServer({ env: env({ SALESFORCE_CLIENT_ID: 'not-our-connected-app' }) });
    try {
      const res = await fetch(`${bad.url}/readyz`);
      expect(res.status).toBe(503);
      const body = (await res.json()) as { status: string; checks: Record<string, unknown> };
      expect(body.status).toBe('not_ready');
      expect(String(body.checks.salesforce)).toMatch(/SALESFORCE_CLIENT_ID/);
      expect((await fetch(`${bad.url}/healthz`)).status).toBe(200);
      // The pages still work, and the administrator's page says what to fix.
      expect((await fetch(`${bad.url}/login`)).status).toBe(200);
      const admin = new HttpClient(bad.url);
      await admin.login('admin@example.com');
      expect((await admin.get('/admin/salesforce')).text).toMatch(/<p id="sf-status" data-ok="false">Not working: [^<]*SALESFORCE_CLIENT_ID/);
    } finally {
      await bad.stop();
    }
  });
});
