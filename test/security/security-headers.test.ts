/**
 * Review #20 and #26 (CSP): the header hook lived inside the pages plugin, so the invitation pages
 * (join links, CSRF tokens) could be framed and cached, with no CSP; and connect-src allowed
 * WebSockets to any host. Now every HTML page gets the headers, connect-src names our origin only,
 * and the two pages with their own framing rules keep them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpClient, startServer, type TestServer } from '../support/server.ts';

describe('security headers on every page', () => {
  let server: TestServer;
  let alice: HttpClient;
  let invitationId: string;
  let joinPath: string;

  beforeAll(async () => {
    server = await startServer();
    alice = new HttpClient(server.url);
    await alice.login('alice@example.com');
    const minute = Math.floor(Date.now() / 60_000) * 60_000;
    const res = await alice.request('POST', '/api/v1/invitations', {
      json: { email: 'guest@example.org', starts_at: new Date(minute + 60_000).toISOString(), ends_at: new Date(minute + 3_600_000).toISOString() },
    });
    invitationId = res.json().invitation.id;
    joinPath = new URL(res.json().invitation.link).pathname;
  });
  afterAll(async () => server?.stop());

  function expectHardened(headers: Headers, where: string, frame: RegExp = /frame-ancestors 'self'/) {
    const csp = headers.get('content-security-policy') ?? '';
    expect(csp, where).toMatch(/default-src 'self'/);
    expect(csp, where).toMatch(/script-src 'self'/);
    expect(csp, where).toMatch(frame);
    // connect-src: our own origin and its WebSocket, never every ws:/wss: host.
    const connect = /connect-src ([^;]*)/.exec(csp)?.[1] ?? '';
    expect(connect.split(' '), where).not.toContain('ws:');
    expect(connect.split(' '), where).not.toContain('wss:');
    expect(connect, where).toContain(`${server.url.replace('http', 'ws')}`);
    expect(headers.get('cache-control'), where).toBe('no-store');
    expect(headers.get('x-content-type-options'), where).toBe('nosniff');
    expect(headers.get('x-frame-options'), where).toMatch(/SAMEORIGIN|DENY/);
    expect(headers.get('referrer-policy'), where).toBeTruthy();
  }

  it('covers the invitation pages, which used to get none', async () => {
    for (const path of ['/invitations', '/invitations/new?email=attacker@evil.example', `/invitations/${invitationId}`]) {
      const res = await alice.get(path, { accept: 'text/html' });
      expect(res.status, path).toBe(200);
      expect(res.text, path).toMatch(/_csrf/);
      expectHardened(res.headers, path);
    }
  });

  it('covers the CRM pages, the login page and error pages', async () => {
    for (const path of ['/contacts', '/settings', '/no-such-page']) {
      expectHardened((await alice.get(path, { accept: 'text/html' })).headers, path);
    }
    expectHardened((await fetch(`${server.url}/login`)).headers, '/login');
  });

  it('keeps the join page unframeable by anyone', async () => {
    const res = await fetch(server.url + joinPath);
    expect(res.status).toBe(200);
    expectHardened(res.headers, 'join', /frame-ancestors 'none'/);
    expect(res.headers.get('x-frame-options')).toBe('DENY');
  });

  it("keeps the Salesforce softphone's own framing rule (no X-Frame-Options that would forbid the org)", async () => {
    const res = await fetch(`${server.url}/salesforce/softphone`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/frame-ancestors 'self'/);
    expect(res.headers.get('x-frame-options')).toBeNull();
    expect(/connect-src ([^;]*)/.exec(csp)![1]!.split(' ')).not.toContain('wss:');
    expect(res.headers.get('cache-control')).toBe('no-store');
  });
});
