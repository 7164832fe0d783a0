/**
 * Review #13 / issue 13 item 4 (proxy part): TRUST_PROXY=true trusted the left-most
 * X-Forwarded-For entry, which the client writes itself: rotating it evaded the per-address login
 * limit, and naming a victim's address locked the victim out. TRUST_PROXY is now a hop count or a
 * list of proxies; the address is read from the right, the same for HTTP and the SIP WebSocket.
 * This test's client plays the proxy (127.0.0.1, one hop) that appends the client's address.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newTag, parseUri, SipRequest } from '../../src/sip/index.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { WsSipClient } from '../support/ws-sip-client.ts';

const login = (server: TestServer, email: string, password: string, forwardedFor: string) =>
  fetch(`${server.url}/api/v1/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': forwardedFor },
    body: JSON.stringify({ email, password }),
  });

describe('TRUST_PROXY=1 behind one proxy that appends the client address', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer({ env: { TRUST_PROXY: '1', LOGIN_MAX_FAILURES_PER_IP: '3', LOGIN_MAX_FAILURES_PER_ACCOUNT: '1000' } });
  });
  afterAll(async () => server?.stop());

  it("records the proxy-appended address, not the client's forged left-most entry", async () => {
    const res = await login(server, 'alice@example.com', 'ringside-demo', '198.51.100.7, 203.0.113.9');
    expect(res.status).toBe(200);
    const sessions = await fetch(`${server.url}/api/v1/sessions`, { headers: { cookie: res.headers.getSetCookie()[0]!.split(';')[0]! } });
    const current = (await sessions.json()).data.find((s: { current: boolean }) => s.current);
    expect(current.ip).toBe('203.0.113.9');
  });

  it('locks out the guessing address although it forges a new left-most entry on every try; others still sign in', async () => {
    for (let i = 0; i < 3; i++) {
      expect((await login(server, `nobody${i}@example.com`, 'wrong', `10.9.9.${i}, 203.0.113.66`)).status).toBe(401);
    }
    const fourth = await login(server, 'nobody9@example.com', 'wrong', '10.9.9.99, 203.0.113.66');
    expect(fourth.status).toBe(429);
    expect((await fourth.json()).error.message).toMatch(/from your network/);
    // The address a forger names on the left is not the one locked out.
    expect((await login(server, 'bob@example.com', 'ringside-demo', '203.0.113.66, 203.0.113.77')).status).toBe(200);
  });

  it("gives the SIP WebSocket flow the same client address (the registration's source)", async () => {
    const signedIn = await login(server, 'alice@example.com', 'ringside-demo', '203.0.113.10');
    const cookie = signedIn.headers.getSetCookie()[0]!.split(';')[0]!;
    const ws = await WsSipClient.connect(`${server.url.replace('http', 'ws')}/sip`, {
      user: 'alice',
      password: 'unused',
      domain: '127.0.0.1',
      headers: { cookie, origin: server.url, 'x-forwarded-for': '192.0.2.200, 203.0.113.10' },
    });
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
    const user = (await server.ringside.sip.users.find('alice'))!;
    const rows = await server.ringside.store.db.selectFrom('registrations').select('source_address').where('user_id', '=', user.id).execute();
    expect(rows.map((r) => r.source_address)).toContain('203.0.113.10');
    expect(rows.map((r) => r.source_address)).not.toContain('192.0.2.200');
    await ws.close();
  });
});

describe('TRUST_PROXY as a list of proxy addresses', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ env: { TRUST_PROXY: '10.0.0.0/8' } });
  });
  afterAll(async () => server?.stop());

  it('ignores X-Forwarded-For from a peer that is not one of them', async () => {
    const res = await login(server, 'alice@example.com', 'ringside-demo', '203.0.113.9');
    const sessions = await fetch(`${server.url}/api/v1/sessions`, { headers: { cookie: res.headers.getSetCookie()[0]!.split(';')[0]! } });
    const current = (await sessions.json()).data.find((s: { current: boolean }) => s.current);
    expect(current.ip).toBe('127.0.0.1');
  });
});

describe('the TRUST_PROXY setting', () => {
  it('reads true as one hop, numbers as hops, and refuses what is not an address', async () => {
    const { loadConfig } = await import('../../src/config/index.ts');
    expect(loadConfig({ env: { TRUST_PROXY: 'true' } }).TRUST_PROXY).toBe(1);
    expect(loadConfig({ env: { TRUST_PROXY: '2' } }).TRUST_PROXY).toBe(2);
    expect(loadConfig({ env: { TRUST_PROXY: 'false' } }).TRUST_PROXY).toBe(false);
    expect(loadConfig({ env: { TRUST_PROXY: '10.0.0.1, 192.168.0.0/16, loopback' } }).TRUST_PROXY).toEqual(['10.0.0.1', '192.168.0.0/16', 'loopback']);
    expect(() => loadConfig({ env: { TRUST_PROXY: 'proxy.example.com' } })).toThrow(/TRUST_PROXY/);
    expect(() => loadConfig({ env: { TRUST_PROXY: '10.0.0.0/99' } })).toThrow(/TRUST_PROXY/);
  });
});
