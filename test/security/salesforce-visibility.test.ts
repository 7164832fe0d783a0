/**
 * Review S4 (settled by a fix): with CRM=salesforce, Ringside reads Salesforce as the integration
 * user, who may see records a Ringside user's own sharing rules hide. Reads by an id the user
 * supplies were the way to ask for any record: `X-Ringside-Record: contact:<id>` on a call put the
 * record's name, title and account on the user's call card. Now a user-named record is never
 * described on the call card in Salesforce mode (the number's own matches are; the Task is still
 * logged on it). Invitations take built-in (UUID) record ids only, so they never read Salesforce by
 * a user's id. Pops by number stay: that is what a CTI screen pop is.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScreenPopMessage } from '../../src/calls/index.ts';
import { parseUri, SipRequest } from '../../src/sip/index.ts';
import { makeAppKeys, SalesforceStandIn, type AppKeys } from '../support/salesforce/index.ts';
import { HttpClient, startServer, type TestServer } from '../support/server.ts';
import { TestPhone } from '../support/sip-phone.ts';
import { waitFor } from '../support/wait.ts';
import { WsSipClient } from '../support/ws-sip-client.ts';

const INTEGRATION = 'ringside-integration@acme.example';
const CLIENT_ID = '3MVG9-ringside-s4-consumer-key';

describe('Salesforce records named by id, read as the integration user', () => {
  let keys: AppKeys;
  let org: SalesforceStandIn;
  let server: TestServer;
  let hidden: string;
  let alice: HttpClient;

  beforeAll(async () => {
    keys = makeAppKeys();
    org = await SalesforceStandIn.start({ clientId: CLIENT_ID, certificate: keys.certificatePem, usernames: [INTEGRATION] });
    const account = org.seed('Account', { Name: 'Board Room Ltd' }, { indexed: true });
    // A record alice's own Salesforce sharing might hide; no phone of the number she dials.
    hidden = org.seed('Contact', { FirstName: 'Hidden', LastName: 'Executive', Title: 'CEO', AccountId: account }, { indexed: true });
    org.addUser('alice.sf@acme.example', 'alice@example.com', 'Alice Agent');
    server = await startServer({
      env: { CRM: 'salesforce', SALESFORCE_LOGIN_URL: org.url, SALESFORCE_CLIENT_ID: CLIENT_ID, SALESFORCE_USERNAME: INTEGRATION, SALESFORCE_PRIVATE_KEY_FILE: keys.privateKeyFile, SIP_RING_TIMEOUT_S: '5' },
    });
    alice = new HttpClient(server.url);
    await alice.login('alice@example.com');
    // The phone/email mirror has its initial sync done.
    await waitFor(async () => (await (await fetch(`${server.url}/readyz`)).json()).checks?.salesforce_sync?.state === 'ready', { timeoutMs: 15_000, what: 'the Salesforce mirror' });
  });
  afterAll(async () => {
    await server?.stop();
    await org?.close();
    if (keys) rmSync(keys.dir, { recursive: true, force: true });
  });

  it("does not describe a record on alice's call card just because her INVITE names it", async () => {
    const ws = await WsSipClient.connect(`${server.url.replace('http', 'ws')}/sip`, { user: 'alice', password: 'unused', domain: '127.0.0.1', headers: { cookie: `rs_session=${alice.cookie('rs_session')}` } });
    const bob = await TestPhone.start({ user: 'bob', password: 'ringside-demo', domain: '127.0.0.1', server: { address: '127.0.0.1', port: server.ringside.sip.ports.udp! } });
    try {
      expect((await ws.register()).status).toBe(200);
      await bob.register();
      const answered = ws.request((cseq) => {
        const r = new SipRequest('INVITE', parseUri('sip:1002@127.0.0.1'));
        r.setHeader('From', `<sip:alice@127.0.0.1>;tag=s4${cseq}`);
        r.setHeader('To', '<sip:1002@127.0.0.1>');
        r.setHeader('Call-ID', `s4-${Date.now()}@ws`);
        r.setHeader('CSeq', `${cseq} INVITE`);
        r.setHeader('Contact', ws.contact);
        r.setHeader('Max-Forwards', '70');
        r.setHeader('X-Ringside-Record', `contact:${hidden}`);
        r.setHeader('Content-Type', 'application/sdp');
        r.body = Buffer.from('v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n');
        return r;
      });
      const message = await ws.nextRequest('MESSAGE');
      ws.respond(message, 200);
      const pop = JSON.parse(message.body.toString()) as ScreenPopMessage;
      expect(JSON.stringify(pop)).not.toMatch(/Hidden|Executive|CEO|Board Room/);
      expect(pop.matches).toEqual([]);
      expect((await answered).status).toBe(200);
      await bob.hangUpIncoming();
      const bye = await ws.nextRequest('BYE');
      ws.respond(bye, 200);
    } finally {
      await bob.close();
      await ws.close();
    }
  });

  it('takes no Salesforce id on an invitation (only built-in record ids), so its name is never shown', async () => {
    const minute = Math.floor(Date.now() / 60_000) * 60_000 + 3_600_000;
    const window = { starts_at: new Date(minute).toISOString(), ends_at: new Date(minute + 1_800_000).toISOString() };
    const probe = await alice.request('POST', '/api/v1/invitations', { json: { email: 'me@elsewhere.example', record_type: 'contact', record_id: hidden, ...window } });
    expect(probe.status).toBe(400);
    expect(probe.json().error.field).toBe('record_id');
    const page = await alice.get(`/invitations/new?record_type=contact&record_id=${hidden}`, { accept: 'text/html' });
    expect(page.status).toBe(200);
    expect(page.text).not.toMatch(/Hidden|Executive/);
  });
});
