/**
 * Review #17: behind the recommended HTTPS proxy (TLS ends there, BASE_URL is https) the session
 * cookie had no Secure flag, so an active attacker could make the browser send it over plain
 * http, and there was no HSTS; without the __Host- prefix a sibling subdomain could plant its own
 * session or login-CSRF cookie. Now BASE_URL https means Secure, __Host- cookies and HSTS.
 */
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startServer, type TestServer } from '../support/server.ts';

const PUBLIC = 'https://ringside.example.com';

async function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  const ws = new WebSocket(url, ['sip'], { headers });
  const status = await Promise.race([
    once(ws, 'open').then(() => 101),
    once(ws, 'unexpected-response').then(([, res]) => (res as { statusCode: number }).statusCode),
  ]);
  ws.terminate();
  return status;
}

describe('behind an HTTPS proxy (BASE_URL https, plain http to Ringside)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ env: { BASE_URL: PUBLIC, TRUST_PROXY: '1' } });
  });
  afterAll(async () => server?.stop());

  it('sets a Secure, __Host- session cookie and sends HSTS', async () => {
    const res = await fetch(`${server.url}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'alice@example.com', password: 'ringside-demo' }) });
    expect(res.status).toBe(200);
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('__Host-rs_session='))!;
    expect(cookie).toMatch(/; Secure/);
    expect(cookie).toMatch(/; Path=\//);
    expect(cookie).not.toMatch(/Domain=/i);
    expect(res.headers.get('strict-transport-security')).toMatch(/max-age=\d{7,}/);
    const login = await fetch(`${server.url}/login`);
    expect(login.headers.get('strict-transport-security')).toMatch(/max-age=/);
    expect(login.headers.getSetCookie().find((c) => c.startsWith('__Host-rs_login_csrf='))).toMatch(/; Secure/);
  });

  it('uses only the __Host- cookie: a plain rs_session planted by a sibling subdomain is not a session', async () => {
    const res = await fetch(`${server.url}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'alice@example.com', password: 'ringside-demo' }) });
    const token = res.headers.getSetCookie().find((c) => c.startsWith('__Host-rs_session='))!.split(';')[0]!.split('=')[1]!;
    expect((await fetch(`${server.url}/api/v1/sessions`, { headers: { cookie: `__Host-rs_session=${token}` } })).status).toBe(200);
    expect((await fetch(`${server.url}/api/v1/sessions`, { headers: { cookie: `rs_session=${token}` } })).status).toBe(401);
    // The SIP WebSocket reads the same cookie, from BASE_URL's origin only.
    const wsUrl = `${server.url.replace('http', 'ws')}/sip`;
    expect(await upgradeStatus(wsUrl, { cookie: `__Host-rs_session=${token}`, origin: PUBLIC })).toBe(101);
    expect(await upgradeStatus(wsUrl, { cookie: `__Host-rs_session=${token}`, origin: server.url })).toBe(403);
  });
});

describe('on plain http (a laptop, BASE_URL unset)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => server?.stop());

  it('keeps the plain cookie (no Secure: the browser would drop it) and sends no HSTS', async () => {
    const res = await fetch(`${server.url}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'alice@example.com', password: 'ringside-demo' }) });
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('rs_session='))!;
    expect(cookie).not.toMatch(/Secure/);
    expect(res.headers.get('strict-transport-security')).toBeNull();
  });
});
