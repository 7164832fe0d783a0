/**
 * Review #15: the guest pass was checked only when the WebSocket opened, so a guest who kept the
 * socket open went on ringing the host after the host cancelled ("the link stops working at
 * once", says the README) or moved the invitation. Now cancelling or moving closes the guest's
 * socket at once, and every guest INVITE re-reads the invitation (a change made on another node).
 */
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newTag, parseUri, SipRequest, type SipResponse } from '../../src/sip/index.ts';
import { HttpClient, startServer, type TestServer } from '../support/server.ts';
import { WsSipClient } from '../support/ws-sip-client.ts';

const HOUR = 3_600_000;

function call(ws: WsSipClient, target: string): Promise<SipResponse> {
  const tag = newTag();
  const callId = `${newTag()}@guest`;
  return ws.request((cseq) => {
    const r = new SipRequest('INVITE', parseUri(`sip:${target}@127.0.0.1`));
    r.setHeader('From', `"Guest" <sip:guest@127.0.0.1>;tag=${tag}`);
    r.setHeader('To', `<sip:${target}@127.0.0.1>`);
    r.setHeader('Call-ID', callId);
    r.setHeader('CSeq', `${cseq} INVITE`);
    r.setHeader('Contact', ws.contact);
    r.setHeader('Max-Forwards', '70');
    return r;
  });
}

describe('a guest connected from an invitation link', () => {
  let server: TestServer;
  let alice: HttpClient;
  let wsUrl: string;

  beforeAll(async () => {
    server = await startServer();
    wsUrl = `${server.url.replace('http', 'ws')}/sip`;
    alice = new HttpClient(server.url);
    await alice.login('alice@example.com');
  });
  afterAll(async () => server?.stop());

  async function openInvitation(): Promise<{ id: string; token: string }> {
    const minute = Math.floor(Date.now() / 60_000) * 60_000;
    const res = await alice.request('POST', '/api/v1/invitations', {
      json: { email: 'jane@acme.com', starts_at: new Date(minute + 60_000).toISOString(), ends_at: new Date(minute + HOUR).toISOString() },
    });
    expect(res.status).toBe(201);
    const inv = res.json().invitation;
    return { id: inv.id, token: new URL(inv.link).pathname.split('/').pop()! };
  }

  const connectGuest = (token: string) =>
    WsSipClient.connect(`${wsUrl}?invite=${token}&name=Jane`, { user: 'guest', password: 'none', domain: '127.0.0.1', headers: { origin: server.url } });

  it('is disconnected the moment the host cancels, and the link no longer connects', async () => {
    const { id, token } = await openInvitation();
    const guest = await connectGuest(token);
    const closed = once(guest.ws, 'close');
    expect((await alice.request('POST', `/api/v1/invitations/${id}/cancel`)).status).toBe(200);
    await closed;
    await expect(connectGuest(token)).rejects.toThrow(/401/);
  });

  it('is disconnected when the host moves the invitation', async () => {
    const { id, token } = await openInvitation();
    const guest = await connectGuest(token);
    const closed = once(guest.ws, 'close');
    const later = Math.floor(Date.now() / 60_000) * 60_000 + 24 * HOUR;
    const moved = await alice.request('PUT', `/api/v1/invitations/${id}/time`, { json: { starts_at: new Date(later).toISOString(), ends_at: new Date(later + HOUR).toISOString() } });
    expect(moved.status).toBe(200);
    await closed;
  });

  it('cannot ring the host after a cancellation this node did not see (another node, same database)', async () => {
    const { id, token } = await openInvitation();
    const widget = await WsSipClient.connect(wsUrl, { user: 'alice', password: 'unused', domain: '127.0.0.1', headers: { cookie: `rs_session=${alice.cookie('rs_session')}` } });
    const guest = await connectGuest(token);
    try {
      expect((await widget.register()).status).toBe(200);
      await server.ringside.store.db.updateTable('invitations').set({ status: 'cancelled' }).where('id', '=', id).execute();
      let rang = false;
      widget.on('request', (r: SipRequest) => {
        if (r.method === 'INVITE') rang = true;
      });
      const refused = await call(guest, 'alice');
      expect(refused.status).toBe(403);
      expect(refused.reason).toMatch(/cancelled or moved/);
      expect(rang).toBe(false);
    } finally {
      await guest.close();
      await widget.close();
    }
  });
});
