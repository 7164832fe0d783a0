/**
 * Security review S5 (one call per invitation): a guest may hold one call at a time. The check
 * was per process, so on the multi-node path a second tab of the same link, sent to another node,
 * rang the host again. Two Ringside nodes on one database here: the second call is refused on
 * the other node too; once the first ends, or its node is gone, the invitation can call again.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SipRequest, newTag, parseUri, type SipResponse } from '../../src/sip/index.ts';
import { ENGINES } from '../support/engines.ts';
import { HttpClient, startServer, type TestServer } from '../support/server.ts';
import { TEST_SDP, TestPhone } from '../support/sip-phone.ts';
import { waitFor } from '../support/wait.ts';
import { WsSipClient } from '../support/ws-sip-client.ts';

function invite(ws: WsSipClient): Promise<SipResponse> {
  const tag = newTag();
  const callId = `${newTag()}@guest`;
  return ws.request((cseq) => {
    const r = new SipRequest('INVITE', parseUri('sip:alice@127.0.0.1'));
    r.setHeader('From', `"Guest" <sip:guest@127.0.0.1>;tag=${tag}`);
    r.setHeader('To', '<sip:alice@127.0.0.1>');
    r.setHeader('Call-ID', callId);
    r.setHeader('CSeq', `${cseq} INVITE`);
    r.setHeader('Contact', ws.contact);
    r.setHeader('Max-Forwards', '70');
    r.setHeader('Content-Type', 'application/sdp');
    r.body = TEST_SDP();
    return r;
  });
}

describe.each(ENGINES)('one call per invitation, across nodes (%s)', (engine) => {
  let a: TestServer;
  let b: TestServer;
  let desk: TestPhone;
  let token: string;

  beforeAll(async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'ringside-two-nodes-'));
    a = await startServer({ engine, dataDir, env: { NODE_ID: 'node-a', SIP_RING_TIMEOUT_S: '20' } });
    b = await startServer({ engine, dataDir, ...(a.pgSchema ? { pgSchema: a.pgSchema } : {}), env: { NODE_ID: 'node-b', SIP_RING_TIMEOUT_S: '20' } });
    desk = await TestPhone.start({ user: 'alice', password: 'ringside-demo', domain: '127.0.0.1', server: { address: '127.0.0.1', port: a.ringside.sip.ports.udp! }, answer: 'manual' });
    expect((await desk.register()).status).toBe(200);
    const alice = new HttpClient(a.url);
    await alice.login('alice@example.com');
    const minute = Math.floor(Date.now() / 60_000) * 60_000;
    const res = await alice.request('POST', '/api/v1/invitations', {
      json: { email: 'guest@elsewhere.test', starts_at: new Date(minute + 5 * 60_000).toISOString(), ends_at: new Date(minute + 3_600_000).toISOString() },
    });
    expect(res.status).toBe(201);
    token = new URL(res.json().invitation.link).pathname.split('/').pop()!;
  });
  afterAll(async () => {
    await desk?.close();
    await b?.stop({ keepData: true });
    await a?.stop();
  });

  const guestOn = (node: TestServer) => WsSipClient.connect(`${node.url.replace('http', 'ws')}/sip?invite=${token}&name=Guest`, { user: 'guest', password: 'none', domain: '127.0.0.1' });

  it('refuses a second call of the same invitation on another node while the first rings; allows it once the first ended', async () => {
    const first = await guestOn(a);
    const second = await guestOn(b);
    try {
      const ringing = invite(first);
      await waitFor(() => desk.calls.length === 1, { what: 'the first guest call ringing' });

      const refused = await invite(second);
      expect(refused.status).toBe(403);
      expect(refused.reason).toBe('This invitation is already in a call');
      expect(desk.calls).toHaveLength(1); // the host's phone rang once

      desk.reject(desk.calls[0]!, 486);
      expect((await ringing).status).toBe(486);
      const again = invite(second);
      await waitFor(() => desk.calls.length === 2, { what: 'the guest calling again from the other node' });
      desk.reject(desk.calls[1]!, 486);
      expect((await again).status).toBe(486);
    } finally {
      await first.close();
      await second.close();
    }
  });

  it('takes over the claim of a node that is gone (no heartbeat)', async () => {
    const db = b.ringside.store.db;
    const invitation = await db.selectFrom('invitations').select('id').executeTakeFirstOrThrow();
    const longAgo = new Date(Date.now() - 120_000).toISOString();
    await db.insertInto('nodes').values({ node_id: 'node-gone', heartbeat_at: longAgo, started_at: longAgo }).execute();
    await db.insertInto('guest_call_claims').values({ invitation_id: invitation.id, call_id: 'call-of-a-dead-node', node_id: 'node-gone', claimed_at: longAgo }).execute();
    const guest = await guestOn(b);
    try {
      const call = invite(guest);
      await waitFor(() => desk.calls.length === 3, { what: 'the guest call ringing despite the dead node’s claim' });
      desk.reject(desk.calls[2]!, 486);
      expect((await call).status).toBe(486);
      await waitFor(async () => (await db.selectFrom('guest_call_claims').selectAll().execute()).length === 0, { what: 'the claim released at the end of the call' });
    } finally {
      await guest.close();
    }
  });
});
