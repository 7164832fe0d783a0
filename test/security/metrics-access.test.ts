/**
 * Review #26 (last bullet): /metrics answered anyone. Its figures (routes, call counts by outcome,
 * SIP rejections, the outbox) are for the operator: now only clients on this machine get them —
 * the address as TRUST_PROXY resolves it, so an outsider coming through the proxy is not local —
 * and, with METRICS_TOKEN, whoever sends that token as a bearer (Prometheus' bearer_token).
 * This test's client plays the proxy (127.0.0.1, one hop) that appends the client's address.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../support/server.ts';

const metrics = (server: TestServer, headers: Record<string, string> = {}) => fetch(`${server.url}/metrics`, { headers });

describe('/metrics', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it('answers this machine, but not an outsider coming through the proxy', async () => {
    server = await startServer({ env: { TRUST_PROXY: '1' } });
    const local = await metrics(server);
    expect(local.status).toBe(200);
    expect(await local.text()).toContain('ringside_http_request_duration_seconds');
    const outsider = await metrics(server, { 'x-forwarded-for': '203.0.113.9' });
    expect(outsider.status).toBe(403);
    expect(await outsider.text()).not.toContain('ringside_');
    // Nor one who writes a loopback address into the header itself: the proxy appends the real one.
    expect((await metrics(server, { 'x-forwarded-for': '127.0.0.1, 203.0.113.9' })).status).toBe(403);
  });

  it('answers an outsider with METRICS_TOKEN as a bearer token, and nobody with a wrong one', async () => {
    const token = 'scrape-token-0123456789abcdef';
    server = await startServer({ env: { TRUST_PROXY: '1', METRICS_TOKEN: token } });
    const outside = { 'x-forwarded-for': '203.0.113.9' };
    expect((await metrics(server, { ...outside, authorization: `Bearer ${token}` })).status).toBe(200);
    expect((await metrics(server, { ...outside, authorization: `Bearer ${token}x` })).status).toBe(403);
    expect((await metrics(server, { authorization: 'Bearer wrong' })).status).toBe(403);
    expect((await metrics(server, outside)).status).toBe(403);
  });
});
