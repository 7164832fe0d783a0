/**
 * Security review #24: SIP names keep their dots (`jane.doe@acme.test` → `jane.doe`), but the
 * router used to strip them before looking a name up, while the guest "host only" check compared
 * the name as dialled. A guest of jane.doe dialling `jane.doe` passed the check and rang user
 * `janedoe` — and could never reach their own host. Both now read the name the same way.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SipRequest, newTag, parseUri, type SipResponse } from '../../src/sip/index.ts';
import { HttpClient, startServer, type TestServer } from '../support/server.ts';
import { TEST_SDP } from '../support/sip-phone.ts';
import { WsSipClient } from '../support/ws-sip-client.ts';

const PASSWORD = 'a long enough password 1';

function invite(ws: WsSipClient, target: string, from = 'guest'): Promise<SipResponse> {
  const tag = newTag();
  const callId = `${newTag()}@test`;
  return ws.request((cseq) => {
    const r = new SipRequest('INVITE', parseUri(`sip:${target}@127.0.0.1`));
    r.setHeader('From', `<sip:${from}@127.0.0.1>;tag=${tag}`);
    r.setHeader('To', `<sip:${target}@127.0.0.1>`);
    r.setHeader('Call-ID', callId);
    r.setHeader('CSeq', `${cseq} INVITE`);
    r.setHeader('Contact', ws.contact);
    r.setHeader('Max-Forwards', '70');
    r.setHeader('Content-Type', 'application/sdp');
    r.body = TEST_SDP();
    return r;
  });
}

describe('dotted SIP user names', () => {
  let server: TestServer;
  let wsUrl: string;
  let dotted: HttpClient;
  let undotted: HttpClient;
  let dottedBrowser: WsSipClient;
  let undottedBrowser: WsSipClient;
  let token: string;

  /** A browser of this user, registered (as the widget is) and answering every call busy. */
  async function browser(client: HttpClient, user: string): Promise<WsSipClient> {
    const ws = await WsSipClient.connect(wsUrl, { user, password: 'unused', domain: '127.0.0.1', headers: { cookie: `rs_session=${client.cookie('rs_session')}` } });
    expect((await ws.register()).status).toBe(200);
    ws.on('request', (r: SipRequest) => {
      if (r.method === 'INVITE') ws.respond(r, 486, { toTag: newTag() });
    });
    return ws;
  }

  beforeAll(async () => {
    server = await startServer({ env: { SIP_RING_TIMEOUT_S: '5' } });
    wsUrl = `${server.url.replace('http', 'ws')}/sip`;
    const admin = new HttpClient(server.url);
    expect((await admin.login('admin@example.com')).status).toBe(200);
    for (const [email, name] of [['jane.doe@acme.test', 'Jane Doe'], ['janedoe@acme.test', 'Janet Edoe']]) {
      const created = await admin.request('POST', '/api/v1/users', { json: { email, name, password: PASSWORD } });
      expect(created.status).toBe(201);
    }
    const names = (await admin.get('/api/v1/users')).json().data.map((u: { sip_username: string }) => u.sip_username);
    expect(names).toEqual(expect.arrayContaining(['jane.doe', 'janedoe']));
    dotted = new HttpClient(server.url);
    await dotted.login('jane.doe@acme.test', PASSWORD);
    undotted = new HttpClient(server.url);
    await undotted.login('janedoe@acme.test', PASSWORD);
    dottedBrowser = await browser(dotted, 'jane.doe');
    undottedBrowser = await browser(undotted, 'janedoe');

    const minute = Math.floor(Date.now() / 60_000) * 60_000;
    const res = await dotted.request('POST', '/api/v1/invitations', {
      json: { email: 'guest@elsewhere.test', starts_at: new Date(minute + 5 * 60_000).toISOString(), ends_at: new Date(minute + 3_600_000).toISOString() },
    });
    expect(res.status).toBe(201);
    token = new URL(res.json().invitation.link).pathname.split('/').pop()!;
  });
  afterAll(async () => {
    await dottedBrowser?.close();
    await undottedBrowser?.close();
    await server?.stop();
  });

  it('a guest of jane.doe who dials jane.doe rings jane.doe, and can never ring janedoe', async () => {
    const guest = await WsSipClient.connect(`${wsUrl}?invite=${token}&name=Guest`, { user: 'guest', password: 'none', domain: '127.0.0.1' });
    try {
      const before = { dotted: dottedBrowser.received.length, undotted: undottedBrowser.received.length };
      const toHost = await invite(guest, 'jane.doe');
      expect(toHost.status).toBe(486); // the host's browser rang (and was busy)
      expect(dottedBrowser.received.slice(before.dotted).filter((r) => r.method === 'INVITE')).toHaveLength(1);
      expect(undottedBrowser.received.slice(before.undotted).filter((r) => r.method === 'INVITE')).toHaveLength(0);

      for (const target of ['janedoe', 'jane-doe', 'JaneDoe']) {
        const refused = await invite(guest, target);
        expect(refused.status, target).toBe(403);
        expect(refused.reason).toBe('Guests may only call their host');
      }
      expect(undottedBrowser.received.slice(before.undotted).filter((r) => r.method === 'INVITE')).toHaveLength(0);
    } finally {
      await guest.close();
    }
  });

  it('a user who dials jane.doe rings jane.doe, not janedoe', async () => {
    const before = { dotted: dottedBrowser.received.length, undotted: undottedBrowser.received.length };
    const caller = await WsSipClient.connect(wsUrl, { user: 'janedoe', password: 'unused', domain: '127.0.0.1', headers: { cookie: `rs_session=${undotted.cookie('rs_session')}` } });
    try {
      expect((await invite(caller, 'jane.doe', 'janedoe')).status).toBe(486);
      expect(dottedBrowser.received.slice(before.dotted).filter((r) => r.method === 'INVITE')).toHaveLength(1);
      expect(undottedBrowser.received.slice(before.undotted).filter((r) => r.method === 'INVITE')).toHaveLength(0);
    } finally {
      await caller.close();
    }
  });
});
