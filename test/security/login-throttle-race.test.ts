/**
 * Review #9: the login limit was check → await scrypt → count, so guesses fired together all
 * passed the check before the first one was counted. Now each attempt is counted before the
 * password is hashed: of 20 concurrent wrong guesses, at most LOGIN_MAX_FAILURES_PER_ACCOUNT are
 * evaluated, the rest are refused with 429, and then even the right password waits out the lock.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../support/server.ts';

describe('login throttling under concurrent guesses', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer({ env: { LOGIN_MAX_FAILURES_PER_ACCOUNT: '5', LOGIN_MAX_FAILURES_PER_IP: '1000' } });
  });
  afterAll(async () => server?.stop());

  const attempt = (password: string) =>
    fetch(`${server.url}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'bob@example.com', password }) });

  it('evaluates at most 5 of 20 simultaneous wrong passwords, then refuses the right one while locked', async () => {
    const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => attempt(`guess-${i}`)));
    const statuses = responses.map((r) => r.status);
    const evaluated = statuses.filter((s) => s === 401).length;
    expect(evaluated).toBeLessThanOrEqual(5);
    expect(statuses.filter((s) => s === 429).length).toBe(20 - evaluated);
    const right = await attempt('ringside-demo');
    expect(right.status).toBe(429);
    expect((await right.json()).error.message).toMatch(/Too many failed sign-in attempts for this account/);
  });

  it('a good password still signs in and clears the count (others unaffected)', async () => {
    const res = await fetch(`${server.url}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'alice@example.com', password: 'ringside-demo' }) });
    expect(res.status).toBe(200);
  });
});
