/**
 * Single sign-on over HTTP, against a provider that signs its own (sometimes flawed) ID tokens:
 * each bad answer gets a page that says so, and leaves no user, no link and no session behind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostileProvider } from '../../test/support/oidc-provider.ts';
import { HttpClient, startServer, type TestServer } from '../../test/support/server.ts';

const HTML = { accept: 'text/html' };

describe('single sign-on: what Ringside accepts from an identity provider', () => {
  let idp: HostileProvider;
  let server: TestServer;

  const provider = (id: string, domains = ['acme.test']) => ({ id, name: `Hostile ${id}`, issuer: idp.issuer(id), client_id: 'ringside', client_secret: 's3cret', allowed_domains: domains });

  beforeAll(async () => {
    idp = await HostileProvider.listen();
    idp.accountOf.set('none-as-outsider', { email: 'eve@elsewhere.test', emailVerified: true });
    idp.accountOf.set('none-as-unverified', { email: 'uma@acme.test', emailVerified: false });
    idp.accountOf.set('none-as-alice', { email: 'alice@example.com', emailVerified: true });
    idp.accountOf.set('none-as-bob', { email: 'bob@example.com', emailVerified: true });
    const providers = [
      provider('none'),
      ...['wrong-audience', 'expired', 'tampered', 'wrong-nonce', 'wrong-issuer', 'unknown-key'].map((flaw) => provider(flaw)),
      provider('none-as-outsider'),
      provider('none-as-unverified'),
      provider('none-as-alice', ['example.com']),
      provider('none-as-bob', ['example.com']),
    ];
    server = await startServer({ env: { OIDC_PROVIDERS: JSON.stringify(providers) } });
  });
  afterAll(async () => {
    await server?.stop();
    await idp?.close();
  });

  /** What a browser does: Sign in with … → the provider → back to Ringside's callback. */
  async function signInWith(providerId: string, client = new HttpClient(server.url)) {
    const start = await client.get(`/auth/oidc/start?provider=${providerId}&next=/leads`, HTML);
    expect(start.status).toBe(303);
    const atProvider = await fetch(start.headers.get('location')!, { redirect: 'manual' });
    const callback = new URL(atProvider.headers.get('location')!);
    expect(callback.pathname).toBe('/auth/oidc/callback');
    const res = await client.get(callback.pathname + callback.search, HTML);
    return { client, res, callback, browserKey: client.cookie('rs_oidc') ?? start.headers.getSetCookie().join(';').match(/rs_oidc=([^;]+)/)?.[1] };
  }

  const db = () => server.ringside.store.db;
  async function counts() {
    const n = async (table: 'users' | 'sessions' | 'user_identities') => Number((await db().selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    return { users: await n('users'), sessions: await n('sessions'), identities: await n('user_identities') };
  }

  /** The error page a user sees: its message, and that nothing was left behind. */
  async function expectRefused(providerId: string, status: number, message: RegExp) {
    const before = await counts();
    const { client, res } = await signInWith(providerId);
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    expect(res.text).toContain('Sign-in did not work');
    expect(res.text).toMatch(message);
    expect(client.cookie('rs_session')).toBeUndefined();
    expect(await counts()).toEqual(before);
    // Nothing in the page names a Ringside user.
    expect(res.text).not.toMatch(/alice|bob@|dana/i);
    return res;
  }

  it('signs a new user in with a good ID token: created just in time, session works for the API', async () => {
    const before = await counts();
    const { client, res } = await signInWith('none');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/leads');
    const me = await client.get('/api/v1/users/me');
    expect(me.status).toBe(200);
    expect(me.json()).toMatchObject({ email: 'dana@acme.test', name: 'Dana Hostile', role: 'user' });
    expect(await counts()).toEqual({ users: before.users + 1, sessions: before.sessions + 1, identities: before.identities + 1 });
    // The session authorises the softphone token like a password session does.
    const session = (await client.get('/api/v1/session')).json();
    client.csrf = session.csrf_token;
    expect((await client.request('POST', '/api/v1/sip-token')).status).toBe(200);
  });

  it.each([
    ['wrong-audience', 'an ID token meant for another client'],
    ['expired', 'an expired ID token'],
    ['tampered', 'an ID token whose payload was changed after signing'],
    ['unknown-key', 'an ID token signed by a key not in the provider’s JWKS'],
    ['wrong-nonce', 'an ID token with another sign-in’s nonce'],
    ['wrong-issuer', 'an ID token from an unknown issuer'],
  ])('refuses %s (%s) with a clear page', async (flaw) => {
    await expectRefused(flaw, 401, /could not be verified, so you are not signed in/);
  });

  it('refuses a replayed answer (same state and code, same browser) after it was used once', async () => {
    const { client, res, callback, browserKey } = await signInWith('none');
    expect(res.status).toBe(303);
    expect(browserKey).toBeTruthy();
    const before = await counts();
    const replayer = new HttpClient(server.url);
    const replay = await replayer.get(callback.pathname + callback.search, { ...HTML, cookie: `rs_oidc=${browserKey}` });
    expect(replay.status).toBe(400);
    expect(replay.text).toContain('This sign-in has expired or was already used. Start again');
    expect(replayer.cookie('rs_session')).toBeUndefined();
    expect(await counts()).toEqual(before);
    void client;
  });

  it('refuses an answer whose state is not the one this browser started', async () => {
    const client = new HttpClient(server.url);
    const start = await client.get('/auth/oidc/start?provider=none', HTML);
    const atProvider = await fetch(start.headers.get('location')!, { redirect: 'manual' });
    const callback = new URL(atProvider.headers.get('location')!);
    callback.searchParams.set('state', 'someone-elses-state');
    const before = await counts();
    const res = await client.get(callback.pathname + callback.search, HTML);
    expect(res.status).toBe(400);
    expect(res.text).toContain('does not belong to the sign-in started in this browser');
    expect(await counts()).toEqual(before);
  });

  it('refuses an answer that reaches a browser which never started a sign-in', async () => {
    const { callback } = await signInWith('none');
    const stranger = new HttpClient(server.url);
    const res = await stranger.get(callback.pathname + callback.search, HTML);
    expect(res.status).toBe(400);
    expect(res.text).toContain('Start again from the sign-in page');
  });

  it('refuses an email domain that is not allowed', async () => {
    await expectRefused('none-as-outsider', 403, /Accounts of elsewhere\.test cannot sign in to Ringside with Hostile none-as-outsider/);
  });

  it('refuses an email the provider has not verified', async () => {
    await expectRefused('none-as-unverified', 403, /has not verified your email address/);
  });

  it('refuses an unknown provider', async () => {
    const res = await new HttpClient(server.url).get('/auth/oidc/start?provider=nobody', HTML);
    expect(res.status).toBe(404);
    expect(res.text).toContain('There is no sign-in provider of that name here');
  });

  it('links the existing user with the same verified email instead of creating another', async () => {
    const before = await counts();
    const { client, res } = await signInWith('none-as-alice');
    expect(res.status).toBe(303);
    expect((await client.get('/api/v1/users/me')).json()).toMatchObject({ email: 'alice@example.com', name: 'Alice Adams' });
    expect(await counts()).toEqual({ users: before.users, sessions: before.sessions + 1, identities: before.identities + 1 });
  });

  it('refuses a disabled user by single sign-on as by password, with the same page as any refused account', async () => {
    await db().updateTable('users').set({ disabled: 1 }).where('email', '=', 'bob@example.com').execute();
    try {
      const res = await expectRefused('none-as-bob', 403, /This account cannot sign in to Ringside\. Ask your administrator\./);
      expect(res.text).not.toMatch(/disabled/i);
      expect((await new HttpClient(server.url).login('bob@example.com')).status).toBe(401);
    } finally {
      await db().updateTable('users').set({ disabled: 0 }).where('email', '=', 'bob@example.com').execute();
    }
  });

  it('shows one button per provider beside the password form', async () => {
    const page = await new HttpClient(server.url).get('/login', HTML);
    expect(page.text).toContain('Sign in with Hostile none</button>');
    expect(page.text).toContain('Sign in with Hostile expired</button>');
    expect(page.text).toContain('name="password"');
  });
});

describe('single sign-on only: the password form turned off', () => {
  let idp: HostileProvider;
  let server: TestServer;

  beforeAll(async () => {
    idp = await HostileProvider.listen();
    server = await startServer({
      env: { OIDC_ISSUER: idp.issuer('none'), OIDC_CLIENT_ID: 'ringside', OIDC_CLIENT_SECRET: 's3cret', OIDC_ALLOWED_DOMAINS: 'acme.test', OIDC_NAME: 'Acme ID', PASSWORD_LOGIN: 'false' },
    });
  });
  afterAll(async () => {
    await server?.stop();
    await idp?.close();
  });

  it('shows only "Sign in with Acme ID", and refuses passwords on the form and the API', async () => {
    const client = new HttpClient(server.url);
    const page = await client.get('/login', HTML);
    expect(page.text).toContain('Sign in with Acme ID</button>');
    expect(page.text).not.toContain('name="password"');
    expect((await client.login('alice@example.com')).status).toBe(403);
    const csrf = page.text.match(/name="_csrf" value="([^"]+)"/)?.[1] ?? 'x';
    const form = await client.request('POST', '/login', { form: { _csrf: csrf, email: 'alice@example.com', password: 'ringside-demo' }, headers: HTML });
    expect(form.status).toBe(403);
    expect(form.text).toContain('Sign-in with a password is turned off here');
    expect(client.cookie('rs_session')).toBeUndefined();
  });
});
