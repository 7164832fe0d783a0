/**
 * Review #5 (cross-site WebSocket hijacking) and issue 13 item 5: `/sip` used to bind any upgrade
 * carrying alice's cookie to alice, whatever page opened it. A page on another origin of the same
 * site (another port of the same host here, a sibling subdomain in real life) gets the cookie
 * attached by the browser; only Origin tells them apart. And `/sip?token=` tokens are single-use.
 */
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { newTag, parseUri, SipRequest } from '../../src/sip/index.ts';
import { HttpClient, startServer, type TestServer } from '../support/server.ts';
import { WsSipClient } from '../support/ws-sip-client.ts';

/** Opens `/sip` like a browser would (subprotocol sip), and says how the upgrade was answered. */
async function upgrade(url: string, headers: Record<string, string>): Promise<{ status: number; ws?: WebSocket }> {
  const ws = new WebSocket(url, ['sip'], { headers });
  const outcome = await Promise.race([
    once(ws, 'open').then(() => ({ status: 101, ws })),
    once(ws, 'unexpected-response').then(([, res]) => ({ status: (res as { statusCode: number }).statusCode })),
  ]);
  if (outcome.status !== 101) ws.terminate();
  return outcome;
}

describe('the SIP WebSocket checks Origin and spends tokens once', () => {
  let server: TestServer;
  let wsUrl: string;
  let alice: HttpClient;
  let cookie: string;

  beforeAll(async () => {
    server = await startServer();
    wsUrl = `${server.url.replace('http', 'ws')}/sip`;
    alice = new HttpClient(server.url);
    expect((await alice.login('alice@example.com')).status).toBe(200);
    cookie = `rs_session=${alice.cookie('rs_session')}`;
  });
  afterAll(async () => server?.stop());

  it("refuses (403) alice's cookie from a same-site page of another origin, and with no Origin at all", async () => {
    const port = Number(new URL(server.url).port);
    const sameSiteOtherPort = `http://127.0.0.1:${port === 65535 ? port - 1 : port + 1}`;
    expect((await upgrade(wsUrl, { cookie, origin: sameSiteOtherPort })).status).toBe(403);
    expect((await upgrade(wsUrl, { cookie, origin: 'http://localhost:' + port })).status).toBe(403);
    expect((await upgrade(wsUrl, { cookie, origin: 'https://evil.example' })).status).toBe(403);
    expect((await upgrade(wsUrl, { cookie })).status).toBe(403);
    const user = (await server.ringside.sip.users.find('alice'))!;
    expect(await server.ringside.sip.location.bindings(user.id)).toEqual([]);
  });

  it("still registers alice's widget from Ringside's own origin", async () => {
    const ws = await WsSipClient.connect(wsUrl, { user: 'alice', password: 'unused', domain: '127.0.0.1', headers: { cookie, origin: server.url } });
    const response = await ws.request((cseq) => {
      const r = new SipRequest('REGISTER', parseUri('sip:127.0.0.1'));
      r.setHeader('From', `<sip:alice@127.0.0.1>;tag=${newTag()}`);
      r.setHeader('To', '<sip:alice@127.0.0.1>');
      r.setHeader('Call-ID', `${newTag()}@ws`);
      r.setHeader('CSeq', `${cseq} REGISTER`);
      r.setHeader('Contact', ws.contact);
      r.setHeader('Max-Forwards', '70');
      return r;
    });
    expect(response.status).toBe(200);
    await ws.close();
  });

  it('lets a SIP client with no cookie and no Origin in, anonymous (it authenticates by digest)', async () => {
    const { status, ws } = await upgrade(wsUrl, {});
    expect(status).toBe(101);
    ws!.close();
  });

  it('accepts a /sip?token= once: the same token a second time is refused', async () => {
    const res = await alice.request('POST', '/api/v1/sip-token');
    expect(res.status).toBe(200);
    const token = res.json().token as string;
    const first = await upgrade(`${wsUrl}?token=${encodeURIComponent(token)}`, { origin: server.url });
    expect(first.status).toBe(101);
    first.ws!.close();
    const replay = await upgrade(`${wsUrl}?token=${encodeURIComponent(token)}`, { origin: server.url });
    expect(replay.status).toBe(401);
  });

  it('refuses a token from a page of a foreign origin', async () => {
    const token = (await alice.request('POST', '/api/v1/sip-token')).json().token as string;
    expect((await upgrade(`${wsUrl}?token=${encodeURIComponent(token)}`, { origin: 'https://evil.example' })).status).toBe(403);
  });
});
