/**
 * Review #26 (mails): any user could send unlimited invitation mails with any recipient and text
 * from the organisation's address — a spam and phishing relay. Now INVITE_MAX_PER_HOUR mails per
 * user per hour, with a clear error on the form's field; other users are unaffected.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpClient, startServer, type TestServer } from '../support/server.ts';

describe('invitation mails per user and hour', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ env: { INVITE_MAX_PER_HOUR: '3' } });
  });
  afterAll(async () => server?.stop());

  const window = () => {
    const minute = Math.floor(Date.now() / 60_000) * 60_000 + 3_600_000;
    return { starts_at: new Date(minute).toISOString(), ends_at: new Date(minute + 1_800_000).toISOString() };
  };

  it('refuses the fourth mail of the hour with a field error and Retry-After, on the API and the form', async () => {
    const alice = new HttpClient(server.url);
    await alice.login('alice@example.com');
    for (let i = 0; i < 3; i++) {
      expect((await alice.request('POST', '/api/v1/invitations', { json: { email: `victim${i}@example.org`, ...window() } })).status).toBe(201);
    }
    const fourth = await alice.request('POST', '/api/v1/invitations', { json: { email: 'victim3@example.org', subject: 'Verify your account', ...window() } });
    expect(fourth.status).toBe(429);
    expect(fourth.json().error).toMatchObject({ code: 'too_many_invitations', field: 'email' });
    expect(fourth.json().error.message).toMatch(/3 invitation mails in the last hour/);
    expect(Number(fourth.headers.get('retry-after'))).toBeGreaterThan(0);
    // A resend is a mail too.
    const first = (await alice.get('/api/v1/invitations')).json().data[0];
    expect((await alice.request('POST', `/api/v1/invitations/${first.id}/resend`)).status).toBe(429);
    // Cancelling is never refused: it is how a mistake is undone.
    expect((await alice.request('POST', `/api/v1/invitations/${first.id}/cancel`)).status).toBe(200);

    const form = await alice.request('POST', '/invitations', { form: { _csrf: alice.csrf, email: 'victim4@example.org', starts_at: window().starts_at.slice(0, 16), ends_at: window().ends_at.slice(0, 16), time_zone: 'UTC' }, headers: { accept: 'text/html' } });
    expect(form.status).toBe(429);
    expect(form.text).toMatch(/invitation mails in the last hour/);

    const bob = new HttpClient(server.url);
    await bob.login('bob@example.com');
    expect((await bob.request('POST', '/api/v1/invitations', { json: { email: 'customer@example.org', ...window() } })).status).toBe(201);
    const mails = await server.ringside.store.db.selectFrom('activity_outbox').select('idempotency_key').where('kind', '=', 'mail').execute();
    expect(mails.filter((m) => m.idempotency_key.endsWith(':invite')).length).toBe(4);
  });
});
