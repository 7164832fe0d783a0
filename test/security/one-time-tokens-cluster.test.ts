/**
 * Review S5 (hand-off part) and #5 (single-use tokens): the Salesforce hand-off's one-time nonces
 * were remembered per process, so on the scale path (several nodes, one database) a token used on
 * one node still worked on another. Now a one-time token is spent by a row in the shared database:
 * once on any node. The same holds for the SIP WebSocket's `/sip?token=`.
 */
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { HttpClient, startServer, type TestServer } from '../support/server.ts';

async function upgradeStatus(url: string, origin: string): Promise<number> {
  const ws = new WebSocket(url, ['sip'], { headers: { origin } });
  const status = await Promise.race([
    once(ws, 'open').then(() => 101),
    once(ws, 'unexpected-response').then(([, res]) => (res as { statusCode: number }).statusCode),
  ]);
  ws.terminate();
  return status;
}

describe('two nodes on one database', () => {
  let a: TestServer;
  let b: TestServer;
  let alice: HttpClient;

  beforeAll(async () => {
    a = await startServer({ env: { NODE_ID: 'node-a', SECRET_KEY: 'cluster-secret-0123456789abcdef0123456789' } });
    b = await startServer({ dataDir: a.dataDir, env: { NODE_ID: 'node-b', SECRET_KEY: 'cluster-secret-0123456789abcdef0123456789' } });
    alice = new HttpClient(a.url);
    expect((await alice.login('alice@example.com')).status).toBe(200);
  });
  afterAll(async () => {
    await b?.stop({ keepData: true });
    await a?.stop();
  });

  const trade = (server: TestServer, token: string) =>
    fetch(`${server.url}/salesforce/session`, { method: 'POST', headers: { 'content-type': 'application/json', origin: server.url }, body: JSON.stringify({ token }) });

  it('spends a Salesforce hand-off token once, whichever node it reaches', async () => {
    const popup = await alice.get('/salesforce/login?state=abcdefghijklmnop1234');
    expect(popup.status).toBe(200);
    const token = /<meta name="ringside-sf-handoff" content="([^"]+)">/.exec(popup.text)![1]!;
    const first = await trade(b, token);
    expect(first.status).toBe(200);
    expect((await first.json()).token).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect((await trade(a, token)).status).toBe(401);
    expect((await trade(b, token)).status).toBe(401);
  });

  it('spends a SIP WebSocket token once, whichever node it reaches', async () => {
    const token = encodeURIComponent((await alice.request('POST', '/api/v1/sip-token')).json().token as string);
    expect(await upgradeStatus(`${b.url.replace('http', 'ws')}/sip?token=${token}`, b.url)).toBe(101);
    expect(await upgradeStatus(`${a.url.replace('http', 'ws')}/sip?token=${token}`, a.url)).toBe(401);
  });
});
