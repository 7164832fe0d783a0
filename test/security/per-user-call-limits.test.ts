/**
 * Security review #23 (issue 13, must hold 7): one user — or one stolen device password — may not
 * hold any number of calls (each one takes relay ports from everybody) nor place them at any rate.
 * Over SIP_MAX_CALLS_PER_USER calls in progress, or SIP_MAX_CALL_RATE_PER_USER new calls in a
 * minute, a call is refused with 503 and Retry-After; a test call through the API gets 429.
 * Test calls count like any other call.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.ts';
import { HttpClient, startServer, type TestServer } from '../support/server.ts';
import { TestPhone, type AnswerMode } from '../support/sip-phone.ts';
import { waitFor } from '../support/wait.ts';

describe('per-user call limits', () => {
  let server: TestServer | undefined;
  const phones: TestPhone[] = [];
  let shift = 0;
  const clock = () => Date.now() + shift;

  afterEach(async () => {
    await Promise.all(phones.splice(0).map((p) => p.close()));
    await server?.stop();
    server = undefined;
    shift = 0;
  });

  async function start(env: Record<string, string>): Promise<TestServer> {
    server = await startServer({ clock, env: { SIP_RING_TIMEOUT_S: '20', ...env } });
    return server;
  }

  async function phone(user: string, answer: AnswerMode = 'auto', register = false): Promise<TestPhone> {
    const p = await TestPhone.start({ user, password: 'ringside-demo', domain: '127.0.0.1', server: { address: '127.0.0.1', port: server!.ringside.sip.ports.udp! }, answer });
    phones.push(p);
    if (register) expect((await p.register()).status).toBe(200);
    return p;
  }

  it('defaults to 20 calls in progress and 60 new calls a minute per user; 0 turns each off', () => {
    expect(loadConfig({ env: {} })).toMatchObject({ SIP_MAX_CALLS_PER_USER: 20, SIP_MAX_CALL_RATE_PER_USER: 60 });
    expect(loadConfig({ env: { SIP_MAX_CALLS_PER_USER: '0', SIP_MAX_CALL_RATE_PER_USER: '0' } })).toMatchObject({ SIP_MAX_CALLS_PER_USER: 0, SIP_MAX_CALL_RATE_PER_USER: 0 });
  });

  it('refuses a call over the limit of calls in progress with 503 and Retry-After; one ending frees a slot; other users are not affected', async () => {
    await start({ SIP_MAX_CALLS_PER_USER: '3', SIP_MAX_CALL_RATE_PER_USER: '0' });
    const bob = await phone('bob', 'manual', true);
    const alice = await phone('alice');
    const ringing = [alice.call('bob'), alice.call('bob'), alice.call('bob')];
    await waitFor(() => bob.calls.length === 3, { what: 'three calls ringing at Bob' });

    const refused = await alice.call('bob');
    expect(refused.status).toBe(503);
    expect(refused.reason).toBe('Too many calls in progress (limit 3)');
    expect(Number(refused.header('Retry-After'))).toBeGreaterThan(0);
    expect(bob.calls).toHaveLength(3); // the fourth never rang

    // Someone else's calls are counted apart: Bob still reaches Alice's desk (busy, but it rang).
    await phone('alice', 'busy', true);
    expect((await (await phone('bob')).call('alice')).status).toBe(486);

    bob.reject(bob.calls[0]!, 486);
    expect((await ringing[0]!).status).toBe(486);
    const again = alice.call('bob');
    await waitFor(() => bob.calls.length === 4, { what: 'the next call ringing once one ended' });
    for (const c of bob.calls.slice(1)) bob.reject(c, 486);
    await Promise.all([...ringing.slice(1), again]);
  });

  it('refuses new calls over the per-minute rate with 503 and a Retry-After that fits the rate; the rate refills', async () => {
    await start({ SIP_MAX_CALLS_PER_USER: '0', SIP_MAX_CALL_RATE_PER_USER: '4' });
    await phone('bob', 'busy', true);
    const alice = await phone('alice');
    for (let i = 0; i < 4; i++) expect((await alice.call('bob')).status).toBe(486);
    const refused = await alice.call('bob');
    expect(refused.status).toBe(503);
    expect(refused.reason).toBe('Too many new calls (limit 4 a minute)');
    const retryAfter = Number(refused.header('Retry-After'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(15); // one call comes back every 15 s at 4 a minute
    shift += retryAfter * 1000;
    expect((await alice.call('bob')).status).toBe(486);
  });

  it('counts test calls: over the limit the API answers 429 with a clear message, and SIP calls are refused too', async () => {
    const s = await start({ SIP_MAX_CALLS_PER_USER: '2', SIP_MAX_CALL_RATE_PER_USER: '0' });
    const desk = await phone('alice', 'manual', true); // the test calls ring here and stay ringing
    const api = new HttpClient(s.url);
    expect((await api.login('alice@example.com')).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await api.request('POST', '/api/v1/test-call', { json: { duration_s: 600 } })).status).toBe(202);
    await waitFor(() => desk.calls.length === 2, { what: 'two test calls ringing' });

    const third = await api.request('POST', '/api/v1/test-call', { json: { duration_s: 600 } });
    expect(third.status).toBe(429);
    expect(third.json()).toMatchObject({ error: { message: 'Too many calls in progress (limit 2)' } });
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);

    const alice = await phone('alice');
    expect((await alice.call('bob')).status).toBe(503);
    expect(desk.calls).toHaveLength(2);

    // The test calls end: the slots come back.
    for (const c of desk.calls) desk.reject(c, 486);
    await waitFor(async () => (await api.request('POST', '/api/v1/test-call', { json: { duration_s: 1 } })).status === 202, { what: 'a test call accepted again' });
  });
});
