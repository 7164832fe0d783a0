import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../../test/support/engines.ts';
import { HttpClient, startServer, type TestServer } from '../../test/support/server.ts';

describe.each(ENGINES)('REST API on %s', (engine) => {
  let server: TestServer;
  let alice: HttpClient;

  beforeAll(async () => {
    server = await startServer({ engine, env: { LOGIN_MAX_FAILURES_PER_ACCOUNT: '3' } });
    alice = new HttpClient(server.url);
    expect((await alice.login('alice@example.com')).status).toBe(200);
  });
  afterAll(async () => server?.stop());

  const contactCount = async () => {
    let n = 0;
    let offset: number | null = 0;
    while (offset !== null) {
      const page: { data: unknown[]; page: { next_offset: number | null } } = (await alice.get(`/api/v1/contacts?limit=200&offset=${offset}`)).json();
      n += page.data.length;
      offset = page.page.next_offset;
    }
    return n;
  };

  it('signs in with an HttpOnly, SameSite=Lax session cookie and tells who is signed in', async () => {
    const client = new HttpClient(server.url);
    const res = await client.login('bob@example.com');
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('rs_session='))!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    expect(cookie).not.toMatch(/Secure/); // plain HTTP on loopback
    const me = (await client.get('/api/v1/session')).json();
    expect(me.user).toMatchObject({ email: 'bob@example.com', extension: '1002', sip_username: 'bob' });
    expect(me.user.password_hash).toBeUndefined();
  });

  it('gives one answer for a wrong password and an unknown account', async () => {
    const a = await new HttpClient(server.url).login('alice@example.com', 'wrong-password');
    const b = await new HttpClient(server.url).login('nobody@example.com', 'wrong-password');
    expect(a.status).toBe(401);
    expect(b.status).toBe(401);
    expect(a.json()).toEqual(b.json());
  });

  it('pauses an account after repeated failures, with a clear message, even for the right password', async () => {
    const u = (await alice.request('POST', '/api/v1/users', { headers: { 'x-csrf-token': 'x' } })).status;
    expect(u).toBe(403); // alice is no admin and the token is wrong anyway
    const admin = new HttpClient(server.url);
    await admin.login('admin@example.com');
    await admin.request('POST', '/api/v1/users', { json: { email: 'target@example.com', name: 'Target', password: 'correct horse battery' } });
    for (let i = 0; i < 3; i++) expect((await new HttpClient(server.url).login('target@example.com', 'nope-nope-nope')).status).toBe(401);
    const blocked = await new HttpClient(server.url).login('target@example.com', 'correct horse battery');
    expect(blocked.status).toBe(429);
    expect(blocked.json().error.message).toMatch(/Too many failed sign-in attempts for this account\. Try again in \d+ minutes?/);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    // Other accounts are not affected.
    expect((await new HttpClient(server.url).login('bob@example.com')).status).toBe(200);
  });

  it('requires a session for the API', async () => {
    const res = await new HttpClient(server.url).get('/api/v1/contacts');
    expect(res.status).toBe(401);
    expect(res.json()).toEqual({ error: { code: 'unauthenticated', message: 'Sign in first' } });
  });

  it('refuses a state change without the CSRF token or from another origin, and changes nothing', async () => {
    const before = await contactCount();
    const noToken = await alice.request('POST', '/api/v1/contacts', { json: { first_name: 'X', last_name: 'Y' }, headers: { 'x-csrf-token': '' } });
    expect(noToken.status).toBe(403);
    expect(noToken.json().error.code).toBe('csrf_failed');
    const crossSite = await alice.request('POST', '/api/v1/contacts', { json: { first_name: 'X', last_name: 'Y' }, headers: { origin: 'https://evil.example' } });
    expect(crossSite.status).toBe(403);
    expect(await contactCount()).toBe(before);
  });

  it('answers bad input with {error:{code,message,field}} and changes nothing', async () => {
    const before = await contactCount();
    const post = (init: Parameters<HttpClient['request']>[2]) => alice.request('POST', '/api/v1/contacts', init);

    const badJson = await post({ body: '{"first_name": "Jo', headers: { 'content-type': 'application/json' } });
    expect(badJson.status).toBe(400);
    expect(badJson.json().error.code).toBe('invalid_json');

    const unknown = await post({ json: { first_name: 'Jo', last_name: 'Ko', favourite_colour: 'red' } });
    expect(unknown.status).toBe(400);
    expect(unknown.json().error).toMatchObject({ code: 'validation_failed', field: 'favourite_colour' });

    const missing = await post({ json: { last_name: 'Ko' } });
    expect(missing.json().error).toMatchObject({ code: 'validation_failed', field: 'first_name', message: 'First name is required' });

    const email = await post({ json: { first_name: 'Jo', last_name: 'Ko', email: 'not-an-email' } });
    expect(email.json().error).toMatchObject({ field: 'email', message: 'Enter a valid email address' });

    const newline = await post({ json: { first_name: 'Jo\r\nBcc: x@y.z', last_name: 'Ko' } });
    expect(newline.json().error).toMatchObject({ field: 'first_name' });

    const account = await post({ json: { first_name: 'Jo', last_name: 'Ko', account_id: '00000000-0000-4000-8000-000000000000' } });
    expect(account.status).toBe(400);
    expect(account.json().error).toMatchObject({ field: 'account_id', message: 'No account with this id' });

    const huge = await post({ json: { first_name: 'x'.repeat(2 * 1024 * 1024), last_name: 'Ko' } });
    expect(huge.status).toBe(413);
    expect(huge.json().error.code).toBe('body_too_large');

    const wrongType = await post({ body: 'first_name=Jo', headers: { 'content-type': 'text/plain' } });
    expect(wrongType.status).toBe(415);

    const badId = await alice.get('/api/v1/contacts/not-a-uuid');
    expect(badId.status).toBe(400);
    expect(badId.json().error.field).toBe('id');

    const nothing = await alice.get('/api/v1/contacts/00000000-0000-4000-8000-000000000000');
    expect(nothing.status).toBe(404);

    const badLimit = await alice.get('/api/v1/contacts?limit=100000');
    expect(badLimit.json().error).toMatchObject({ field: 'limit' });

    expect(await contactCount()).toBe(before);
    expect((await alice.get('/healthz')).status).toBe(200);
  });

  it('creates, searches in any phone format, edits with versions (409 when stale) and deletes a contact', async () => {
    const created = await alice.request('POST', '/api/v1/contacts', {
      json: { first_name: '<script>alert(1)</script>', last_name: "O'Hara", phone_mobile: '(206) 555-0188', email: 'scarlett@tara.example' },
    });
    expect(created.status).toBe(201);
    const c = created.json();
    expect(c.first_name).toBe('<script>alert(1)</script>');
    expect(c.phones).toEqual([{ field: 'mobile', raw: '(206) 555-0188', e164: '+12065550188', display: '+1 206 555 0188', ext: null }]);

    for (const q of ['+1 206 555 0188', '206.555.0188', "o'hara", 'scarlett@tara']) {
      const found = (await alice.get(`/api/v1/contacts?q=${encodeURIComponent(q)}`)).json();
      expect(found.data.map((x: { id: string }) => x.id), q).toEqual([c.id]);
    }

    const edited = await alice.request('PATCH', `/api/v1/contacts/${c.id}`, { json: { version: c.version, title: 'Owner' } });
    expect(edited.status).toBe(200);
    const stale = await alice.request('PATCH', `/api/v1/contacts/${c.id}`, { json: { version: c.version, title: 'Someone else' } });
    expect(stale.status).toBe(409);
    expect(stale.json().error).toMatchObject({ code: 'conflict', field: 'version', current: { title: 'Owner', version: c.version + 1 } });

    expect((await alice.request('DELETE', `/api/v1/contacts/${c.id}`)).status).toBe(204);
    expect((await alice.get(`/api/v1/contacts/${c.id}`)).status).toBe(404);
  });

  it('lists the demo organisation with its mixed phone formats', async () => {
    const accounts = (await alice.get('/api/v1/accounts?limit=200')).json();
    expect(accounts.data.length).toBe(20);
    expect(await contactCount()).toBeGreaterThanOrEqual(100);
    const leads = (await alice.get('/api/v1/leads?limit=200')).json();
    expect(leads.data.length).toBe(10);
    const shared = (await alice.get(`/api/v1/contacts?q=${encodeURIComponent('+1 303 555 0199')}`)).json();
    expect(shared.data).toHaveLength(2);
    const jane = (await alice.get('/api/v1/contacts?q=jane%40acme.com')).json().data[0];
    expect(jane.phones.map((p: { display: string }) => p.display)).toContain('+1 415 555 0134');
    const timeline = (await alice.get(`/api/v1/activities?record_type=contact&record_id=${jane.id}`)).json();
    expect(timeline.data.length).toBeGreaterThanOrEqual(3);
  });

  it('lets only an admin add users, who can then sign in', async () => {
    const denied = await alice.request('POST', '/api/v1/users', { json: { email: 'carol@example.com', name: 'Carol', password: 'long-enough-pw' } });
    expect(denied.status).toBe(403);
    const admin = new HttpClient(server.url);
    await admin.login('admin@example.com');
    const added = await admin.request('POST', '/api/v1/users', { json: { email: 'Carol@Example.com', name: 'Carol', password: 'long-enough-pw', extension: '1003' } });
    expect(added.status).toBe(201);
    expect(added.json()).toMatchObject({ email: 'carol@example.com', sip_username: 'carol', extension: '1003', role: 'user' });
    const again = await admin.request('POST', '/api/v1/users', { json: { email: 'carol@example.com', name: 'Carol 2', password: 'long-enough-pw' } });
    expect(again.status).toBe(409);
    expect(again.json().error.field).toBe('email');
    const short = await admin.request('POST', '/api/v1/users', { json: { email: 'dan@example.com', name: 'Dan', password: 'short' } });
    expect(short.json().error).toMatchObject({ field: 'password' });
    expect((await new HttpClient(server.url).login('carol@example.com', 'long-enough-pw')).status).toBe(200);
  });

  it('ends the session on sign-out: the old cookie no longer works', async () => {
    const client = new HttpClient(server.url);
    await client.login('bob@example.com');
    const token = client.cookie('rs_session')!;
    expect((await client.request('DELETE', '/api/v1/session')).status).toBe(204);
    const replay = await fetch(`${server.url}/api/v1/session`, { headers: { cookie: `rs_session=${token}` } });
    expect(replay.status).toBe(401);
  });

  it('serves an OpenAPI 3.1 document generated from the route schemas', async () => {
    const doc = (await new HttpClient(server.url).get('/api/openapi.json')).json();
    expect(doc.openapi).toBe('3.1.0');
    const post = doc.paths['/api/v1/contacts'].post;
    const schema = post.requestBody.content['application/json'].schema;
    expect(schema.properties.first_name.maxLength).toBe(100);
    expect(schema.additionalProperties).toBe(false);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/v1/accounts/{id}', '/api/v1/leads', '/api/v1/activities', '/api/v1/users']));
    expect(Object.keys(doc.paths).some((p) => !p.startsWith('/api/'))).toBe(false);
  });

  it('reports health, readiness and Prometheus metrics', async () => {
    const anon = new HttpClient(server.url);
    expect((await anon.get('/healthz')).json()).toEqual({ status: 'ok' });
    expect((await anon.get('/readyz')).json()).toMatchObject({ status: 'ready', checks: { database: 'ok' } });
    const metrics = (await anon.get('/metrics')).text;
    expect(metrics).toMatch(/ringside_http_request_duration_seconds_bucket\{.*route="\/api\/v1\/contacts".*\}/);
    expect(metrics).toMatch(new RegExp(`ringside_db_pool_connections\\{state="total",engine="${engine}"\\} \\d+`));
    expect(metrics).toMatch(/ringside_process_resident_memory_bytes \d+/);
  });
});
