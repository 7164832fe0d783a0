/**
 * What a salesperson buys Ringside for, from the server's side: the screen pop reaches the
 * ringing browser, Add contact makes one contact, the picker and click-to-dial choose the record,
 * and every call — answered, missed, busy, interrupted — becomes exactly one activity per user.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Baresip } from '../../test/support/baresip.ts';
import { HttpClient, startServer, type TestServer } from '../../test/support/server.ts';
import { TestPhone } from '../../test/support/sip-phone.ts';
import { waitFor } from '../../test/support/wait.ts';
import { WeriftPeer } from '../../test/support/werift-peer.ts';
import { WsSipClient } from '../../test/support/ws-sip-client.ts';
import { Dialog, SipRequest, parseUri } from '../sip/index.ts';
import type { ScreenPopMessage } from './index.ts';

describe('call flows with the built-in CRM', () => {
  let server: TestServer;
  let alice: HttpClient;
  let wsUrl: string;

  beforeAll(async () => {
    server = await startServer({ env: { SIP_RING_TIMEOUT_S: '5' } });
    wsUrl = `${server.url.replace('http', 'ws')}/sip`;
    alice = new HttpClient(server.url);
    await alice.login('alice@example.com');
  });
  afterAll(async () => server?.stop());

  /** Alice's browser: a SIP-over-WebSocket client bound to her session (as the widget is). */
  async function browser(): Promise<WsSipClient> {
    const ws = await WsSipClient.connect(wsUrl, { user: 'alice', password: 'unused', domain: '127.0.0.1', headers: { cookie: `rs_session=${alice.cookie('rs_session')}` } });
    expect((await ws.register()).status).toBe(200);
    return ws;
  }

  async function screenPop(ws: WsSipClient): Promise<ScreenPopMessage> {
    const message = await ws.nextRequest('MESSAGE');
    expect(message.header('Content-Type')).toBe('application/vnd.ringside+json');
    ws.respond(message, 200);
    return JSON.parse(message.body.toString()) as ScreenPopMessage;
  }

  async function contactByName(q: string) {
    return (await alice.get(`/api/v1/contacts?q=${encodeURIComponent(q)}`)).json().data[0] as { id: string; name: string; phones: { e164: string }[] };
  }

  /** The call activities on a record's timeline. */
  async function callActivities(type: string, id: string) {
    const page = (await alice.get(`/api/v1/activities?record_type=${type}&record_id=${id}&limit=200`)).json() as { data: { kind: string; subject: string; direction: string; disposition: string; duration_s: number; body: string | null; details: Record<string, unknown> & { quality?: { jitterMs?: number } } }[] };
    return page.data.filter((a) => a.kind === 'call' && !a.details?.demo);
  }

  it('pops the known caller’s contact in the ringing browser, and logs the answered call on that contact within 2 s', async () => {
    const ws = await browser();
    const jane = await contactByName('jane@acme.com');
    const test = server.ringside.sip.testCall({ to: 'alice', from: jane.phones[0]!.e164, durationS: 1 });
    const invite = await ws.nextRequest('INVITE');
    const pop = await screenPop(ws);
    expect(pop).toMatchObject({ type: 'screen-pop', direction: 'inbound', number: '+14155550134', number_display: '+1 415 555 0134' });
    expect(pop.call_id).toBe(invite.header('X-Ringside-Call'));
    expect(pop.matches[0]).toMatchObject({ type: 'contact', id: jane.id, name: 'Jane Doe', title: 'VP Sales', account: 'Acme Corp', url: `${server.url}/contacts/${jane.id}` });
    expect(pop.matches[0]!.last_activity?.subject).toBeTruthy();
    // The test caller speaks RTP; the relay offers the browser WebRTC, which a real peer answers.
    const peer = new WeriftPeer();
    ws.respond(invite, 200, { toTag: 'w1', sdp: Buffer.from(await peer.answer(invite.body.toString())) });
    const bye = await ws.nextRequest('BYE'); // the test caller hangs up after 1 s
    ws.respond(bye, 200);
    await peer.close();
    await test;
    const hungUp = Date.now();
    const logged = await waitFor(async () => (await callActivities('contact', jane.id))[0], { timeoutMs: 2000, what: 'the activity on Jane' });
    expect(Date.now() - hungUp).toBeLessThan(2000);
    expect(logged).toMatchObject({ direction: 'inbound', disposition: 'answered', subject: 'Inbound call from Ringside test call (+1 415 555 0134)' });
    expect(logged.duration_s).toBeGreaterThanOrEqual(1);
    expect(logged.details.answered_device).toBe('the browser');
    // The browser's last quality report arrives after the hang-up: the logged activity gets it.
    const q = await alice.request('POST', `/api/v1/calls/${pop.call_id}/quality`, { json: { jitter_ms: 12, loss_pct: 0.5, rtt_ms: 40 } });
    expect(q.status).toBeLessThan(300);
    const updated = await waitFor(async () => {
      const a = (await callActivities('contact', jane.id))[0];
      return a?.details.quality?.jitterMs === 12 ? a : undefined;
    }, { timeoutMs: 5000, what: 'the quality on the logged call' });
    expect(updated.details.quality).toMatchObject({ jitterMs: 12, lossPct: 0.5, rttMs: 40, mos: expect.any(Number) });
    await ws.close();
  });

  it('offers Add contact for an unknown caller: one contact however often it is clicked, matched at once on the next call', async () => {
    const ws = await browser();
    const number = '+13125550777';
    const test = server.ringside.sip.testCall({ to: 'alice', from: number, durationS: 1 });
    const invite = await ws.nextRequest('INVITE');
    const pop = await screenPop(ws);
    expect(pop.matches).toEqual([]);
    const body = { first_name: 'Nora', last_name: 'Newcaller' };
    const [first, second] = await Promise.all([
      alice.request('POST', `/api/v1/calls/${pop.call_id}/contact`, { json: body }),
      alice.request('POST', `/api/v1/calls/${pop.call_id}/contact`, { json: body }),
    ]);
    expect([first.status, second.status].sort()).toEqual([200, 201]);
    expect(first.json().id).toBe(second.json().id);
    expect((await alice.get(`/api/v1/contacts?q=${encodeURIComponent(number)}`)).json().data).toHaveLength(1);
    ws.respond(invite, 486, { toTag: 'w2' }); // busy: it is still logged, on the new contact
    await test;
    const contactId = first.json().id as string;
    const logged = await waitFor(async () => (await callActivities('contact', contactId))[0], { what: 'the busy call on the new contact' });
    expect(logged).toMatchObject({ direction: 'inbound', disposition: 'busy' });

    const again = server.ringside.sip.testCall({ to: 'alice', from: number, durationS: 1 });
    const invite2 = await ws.nextRequest('INVITE');
    const pop2 = await screenPop(ws);
    expect(pop2.matches.map((m) => m.id)).toEqual([contactId]);
    ws.respond(invite2, 603, { toTag: 'w3' });
    await again;
    await ws.close();
  });

  it('lets the user pick among contacts sharing a number, and logs the call on the chosen one', async () => {
    const ws = await browser();
    const test = server.ringside.sip.testCall({ to: 'alice', from: '+13035550199', durationS: 1 });
    const invite = await ws.nextRequest('INVITE');
    const pop = await screenPop(ws);
    expect(pop.matches).toHaveLength(2);
    const chosen = pop.matches[1]!;
    expect((await alice.request('POST', `/api/v1/calls/${pop.call_id}/link`, { json: { record_type: 'contact', record_id: chosen.id } })).status).toBe(204);
    expect((await alice.request('PUT', `/api/v1/calls/${pop.call_id}/notes`, { json: { notes: 'Asked about pricing' } })).status).toBe(204);
    ws.respond(invite, 480, { toTag: 'w4' });
    await test;
    const logged = await waitFor(async () => (await callActivities('contact', chosen.id))[0], { what: 'the call on the chosen contact' });
    expect(logged).toMatchObject({ disposition: 'no-answer', subject: expect.stringMatching(/^Missed call from/), body: 'Asked about pricing' });
    expect(await callActivities('contact', pop.matches[0]!.id)).toEqual([]);
    // Notes stay editable after the call: the activity follows.
    expect((await alice.request('PUT', `/api/v1/calls/${pop.call_id}/notes`, { json: { notes: 'Asked about pricing; send the PDF' } })).status).toBe(204);
    await waitFor(async () => (await callActivities('contact', chosen.id))[0]?.body === 'Asked about pricing; send the PDF', { what: 'the edited notes' });
    await ws.close();
  });

  it('logs one activity for a forked call answered on the desk phone: "answered on the desk phone", on the caller’s contact', async () => {
    const ws = await browser();
    const desk = await Baresip.start({ name: 'desk', account: { user: 'alice', password: 'ringside-demo', domain: `127.0.0.1:${server.ringside.sip.ports.udp}`, answer: 'auto' } });
    try {
      const jane = await contactByName('jane@acme.com');
      const before = (await callActivities('contact', jane.id)).length;
      const test = server.ringside.sip.testCall({ to: 'alice', from: '+14155550134', durationS: 1 });
      const invite = await ws.nextRequest('INVITE'); // the browser rings too, and is cancelled when the desk phone answers
      ws.respond(invite, 180, { toTag: 'w5' });
      await ws.nextRequest('CANCEL');
      await test;
      const logged = await waitFor(async () => {
        const all = await callActivities('contact', jane.id);
        return all.length === before + 1 ? all[0] : undefined;
      }, { what: 'exactly one new activity' });
      expect(logged).toMatchObject({ disposition: 'answered', details: expect.objectContaining({ answered_device: 'the desk phone (baresip)' }) });
    } finally {
      await desk.stop();
      await ws.close();
    }
  });

  it('attaches a click-to-dial call to the record it was dialled from, with its real duration', async () => {
    const ws = await browser();
    const bob = await TestPhone.start({ user: 'bob', password: 'ringside-demo', domain: '127.0.0.1', server: { address: '127.0.0.1', port: server.ringside.sip.ports.udp! }, answer: 'auto' });
    await bob.register();
    const jane = await contactByName('jane@acme.com');
    const before = (await callActivities('contact', jane.id)).length;
    // The widget dials (here: Bob's extension, standing in for a customer) from Jane's page.
    const response = await ws.request((cseq) => {
      const r = new SipRequest('INVITE', parseUri('sip:1002@127.0.0.1'));
      r.setHeader('From', `<sip:alice@127.0.0.1>;tag=cd${cseq}`);
      r.setHeader('To', '<sip:1002@127.0.0.1>');
      r.setHeader('Call-ID', `click-to-dial-${Date.now()}@ws`);
      r.setHeader('CSeq', `${cseq} INVITE`);
      r.setHeader('Contact', ws.contact);
      r.setHeader('Max-Forwards', '70');
      r.setHeader('X-Ringside-Record', `contact:${jane.id}`);
      r.setHeader('Content-Type', 'application/sdp');
      r.body = Buffer.from('v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n');
      return r;
    });
    expect(response.status).toBe(200);
    expect(response.header('X-Ringside-Call')).toMatch(/^[0-9a-f-]{36}$/);
    const ack = new SipRequest('ACK', parseUri(response.contacts === '*' ? 'sip:x' : response.contacts[0]!.uri.toString()));
    for (const h of ['From', 'To', 'Call-ID']) ack.setHeader(h, response.header(h)!);
    ack.setHeader('CSeq', `${response.cseq.seq} ACK`);
    ack.setHeader('Via', `SIP/2.0/WS x.invalid;branch=z9hG4bKack${Date.now()}`);
    ack.setHeader('Max-Forwards', '70');
    ws.send(ack);
    void Dialog;
    const answeredAt = Date.now();
    await new Promise((r) => setTimeout(r, 1500)); // the conversation itself: a real 1.5 s call
    await bob.hangUpIncoming();
    const realS = (Date.now() - answeredAt) / 1000;
    await ws.nextRequest('BYE');
    const logged = await waitFor(async () => {
      const all = await callActivities('contact', jane.id);
      return all.length === before + 1 ? all[0] : undefined;
    }, { what: 'the click-to-dial call on Jane' });
    expect(logged).toMatchObject({ direction: 'outbound', disposition: 'answered' });
    expect(Math.abs(logged.duration_s - realS)).toBeLessThanOrEqual(1);
    await bob.close();
    await ws.close();
  });
});

describe('activities survive CRM outages and crashes', () => {
  it('delivers every activity once the CRM is back, none twice, and shows the admin what waits', async () => {
    const server = await startServer({ env: { ACTIVITY_RETRY_BASE_MS: '50', ACTIVITY_RETRY_MAX_MS: '200' } });
    try {
      const crm = server.ringside.crm;
      let down = true;
      crm.failures = { shouldFail: () => down };
      const jane = (await server.ringside.crm.listContacts({ q: 'jane@acme.com' })).data[0]!;
      for (let i = 0; i < 3; i++) expect((await server.ringside.sip.testCall({ to: 'alice', from: '+14155550134', durationS: 1 })).status).toBe(480); // nobody registered
      const admin = new HttpClient(server.url);
      await admin.login('admin@example.com');
      const waiting = await waitFor(async () => {
        const r = (await admin.get('/api/v1/admin/outbox')).json() as { data: { attempts: number; last_error: string }[] };
        return r.data.length === 3 && r.data.every((d) => d.attempts >= 2) ? r : undefined;
      }, { what: 'three activities retrying' });
      expect(waiting.data[0]!.last_error).toBe('built-in CRM unavailable (injected failure)');
      expect((await new HttpClient(server.url).get('/api/v1/admin/outbox')).status).toBe(401);

      down = false;
      await waitFor(async () => (await server.ringside.outbox.undelivered()).length === 0, { what: 'the outbox to drain' });
      const logged = (await server.ringside.crm.listActivities({ type: 'contact', id: jane.id }, { limit: 200 })).data.filter((a) => a.kind === 'call' && !(a.details as { demo?: boolean } | null)?.demo);
      expect(logged).toHaveLength(3);
      expect(logged.every((a) => a.disposition === 'no-answer')).toBe(true);
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      expect(metrics).toMatch(/ringside_activity_deliveries_total 3/);
      expect(metrics).toMatch(/ringside_activity_failures_total [1-9]/);
    } finally {
      await server.stop();
    }
  });

  it('closes a call the server was killed in the middle of as "interrupted", after the restart, with exactly one activity', async () => {
    const { freePort, startProcess } = await import('../../test/support/process.ts');
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const dataDir = mkdtempSync(path.join(tmpdir(), 'ringside-kill-'));
    const [port, sipPort] = [await freePort(), await freePort()];
    const env = { PORT: String(port), SIP_PORT: String(sipPort), DATA_DIR: dataDir, SIP_DOMAIN: '127.0.0.1', LOG_LEVEL: 'warn' };
    const base = `http://127.0.0.1:${port}`;
    const ready = () => waitFor(() => fetch(`${base}/readyz`).then((r) => r.ok, () => false), { timeoutMs: 20_000, what: 'the server to start' });
    let first = startProcess([], env);
    const desk = await (async () => {
      await ready();
      return Baresip.start({ name: 'desk', account: { user: 'alice', password: 'ringside-demo', domain: `127.0.0.1:${sipPort}`, answer: 'auto' } });
    })();
    try {
      const client = new HttpClient(base);
      await client.login('alice@example.com');
      expect((await client.request('POST', '/api/v1/test-call', { json: { from: '+14155550134', duration_s: 60 } })).status).toBe(202);
      await desk.waitForEvent('CALL_ESTABLISHED');
      // Killed once the call is recorded as answered (a kill within the recorder's 20 ms batch
      // would find no call at all).
      await waitFor(async () => ((await client.get('/api/v1/calls/recent')).json() as { data: { state: string }[] }).data[0]?.state === 'answered', { what: 'the call recorded' });
      first.child.kill('SIGKILL');
      await first.exit();

      first = startProcess([], env);
      await ready();
      const again = new HttpClient(base);
      await again.login('alice@example.com');
      const jane = (await again.get('/api/v1/contacts?q=jane%40acme.com')).json().data[0] as { id: string };
      const calls = await waitFor(async () => {
        const page = (await again.get(`/api/v1/activities?record_type=contact&record_id=${jane.id}&limit=200`)).json() as { data: { kind: string; disposition: string; details: { demo?: boolean } }[] };
        const real = page.data.filter((a) => a.kind === 'call' && !a.details?.demo);
        return real.length > 0 ? real : undefined;
      }, { what: 'the interrupted call’s activity' });
      expect(calls).toHaveLength(1);
      expect(calls[0]!.disposition).toBe('interrupted');
    } finally {
      desk.kill();
      await desk.stop();
      await first.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
