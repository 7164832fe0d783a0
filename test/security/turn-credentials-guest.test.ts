/**
 * Review #19: every join page handed out 24-hour TURN credentials, also for an invitation that
 * opens next year, so anyone who ever held a link had a standing TURN relay. Now a guest gets
 * TURN only while the link is open, and the credentials expire when the invitation ends.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpClient, startServer, type TestServer } from '../support/server.ts';

const HOUR = 3_600_000;

function guestConfig(page: string): { state: string; ice_servers: { urls: string | string[]; username?: string; credential?: string }[] } {
  const m = /<script type="application\/json" id="guest-config">([\s\S]*?)<\/script>/.exec(page);
  return JSON.parse(m![1]!);
}

describe('TURN credentials on the guest page', () => {
  let server: TestServer;
  let alice: HttpClient;
  beforeAll(async () => {
    server = await startServer({ env: { TURN_URLS: 'turn:127.0.0.1:3478', TURN_SECRET: 'coturn-secret', STUN_URLS: 'stun:127.0.0.1:3478', TURN_TTL_S: '86400' } });
    alice = new HttpClient(server.url);
    await alice.login('alice@example.com');
  });
  afterAll(async () => server?.stop());

  async function joinPage(startsInMs: number, lengthMs: number): Promise<ReturnType<typeof guestConfig>> {
    const minute = Math.floor(Date.now() / 60_000) * 60_000;
    const res = await alice.request('POST', '/api/v1/invitations', {
      json: { email: 'guest@example.org', starts_at: new Date(minute + startsInMs).toISOString(), ends_at: new Date(minute + startsInMs + lengthMs).toISOString() },
    });
    expect(res.status).toBe(201);
    const page = await fetch(new URL(res.json().invitation.link).pathname.replace(/^/, server.url));
    expect(page.status).toBe(200);
    return guestConfig(await page.text());
  }

  it('gives none for an invitation that has not opened yet (STUN only)', async () => {
    const config = await joinPage(30 * 24 * HOUR, HOUR);
    expect(config.state).toBe('upcoming');
    expect(config.ice_servers.some((s) => s.username)).toBe(false);
    expect(config.ice_servers).toEqual([{ urls: ['stun:127.0.0.1:3478'] }]);
  });

  it('gives credentials that end with the invitation, not 24 hours later', async () => {
    const config = await joinPage(60_000, 30 * 60_000);
    expect(config.state).toBe('open');
    const turn = config.ice_servers.find((s) => s.username)!;
    const expiry = Number(turn.username!.split(':')[0]) * 1000;
    const minute = Math.floor(Date.now() / 60_000) * 60_000;
    expect(expiry).toBeLessThanOrEqual(minute + 60_000 + 30 * 60_000);
    expect(expiry).toBeGreaterThan(Date.now());
  });
});
