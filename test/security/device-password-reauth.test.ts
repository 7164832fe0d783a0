/**
 * Review #12, "require the current password to reveal or change them" (issue 13 item 9). With
 * only a stolen session cookie an attacker pressed "Reset device password", read the new one and
 * registered a phone as the victim — taking her calls and calling out through the trunk — until
 * she changed her password. Now a reset needs the owner: the login password (a wrong one counted
 * by the login throttle like a failed sign-in), or, for a user who signs in with single sign-on
 * (and knows no Ringside password), a sign-in with the provider in the last 10 minutes.
 *
 * "Signed in recently" is when the provider last asked for the password (the ID token's
 * `auth_time`), and "Sign in again" asks it to ask again (`prompt=login`, `max_age=0`, OpenID
 * Connect Core §3.1.2.1): at a shared PC where the victim's provider session is still alive, the
 * provider would otherwise pass anyone through without a password.
 *
 * The single sign-on user signs in over real HTTP through a provider that signs its own ID
 * tokens (one that ignores `prompt=login` too), and in Chromium through a real OpenID Connect
 * provider (test/support/oidc-provider.ts); "signed in more than 10 minutes ago" is set by moving
 * the session's `auth_time` back in the store.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nowIso } from '../../src/store/index.ts';
import { launchChromium } from '../support/browser.ts';
import { HostileProvider, OidcTestProvider } from '../support/oidc-provider.ts';
import { HttpClient, startServer, type TestServer } from '../support/server.ts';
import { TestPhone } from '../support/sip-phone.ts';
import { ensureWidgetBuilt } from '../support/widget.ts';

const HTML = { accept: 'text/html' };

let idp: HostileProvider;
let server: TestServer;
const phones: TestPhone[] = [];

beforeAll(async () => {
  idp = await HostileProvider.listen();
  idp.accountOf.set('none-as-sam', { email: 'sam@corp.test', emailVerified: true });
  // A provider that ignores prompt=login and max_age: it says Lee typed her password an hour ago.
  idp.accountOf.set('none-as-lee', { email: 'lee@corp.test', emailVerified: true, claims: { auth_time: Math.floor(Date.now() / 1000) - 3600 } });
  // And one that never says when the user typed a password (no auth_time at all).
  idp.accountOf.set('none-as-max', { email: 'max@corp.test', emailVerified: true, claims: { auth_time: undefined } });
  const provider = (id: string, name: string) => ({ id, name, issuer: idp.issuer(id), client_id: 'ringside', client_secret: 's3cret', allowed_domains: ['corp.test'] });
  server = await startServer({ env: { OIDC_PROVIDERS: JSON.stringify([provider('none-as-sam', 'Corp'), provider('none-as-lee', 'Lazy ID'), provider('none-as-max', 'Mum ID')]) } });
});
afterAll(async () => {
  for (const p of phones) await p.close();
  await server?.stop();
  await idp?.close();
});

async function signedIn(email: string, password = 'ringside-demo'): Promise<HttpClient> {
  const client = new HttpClient(server.url);
  expect((await client.login(email, password)).status).toBe(200);
  return client;
}

/** What a browser does on "Sign in with Corp" (or a link that starts it): provider, then Ringside's callback's answer. */
async function throughProvider(client: HttpClient, startPath: string) {
  const start = await client.get(startPath, HTML);
  expect(start.status).toBe(303);
  const atProvider = await fetch(start.headers.get('location')!, { redirect: 'manual' });
  const callback = new URL(atProvider.headers.get('location')!);
  return client.get(callback.pathname + callback.search, HTML);
}

/** A sign-in that works: back to `next`, signed in. */
async function followSignIn(client: HttpClient, startPath: string): Promise<string> {
  const back = await throughProvider(client, startPath);
  expect(back.status).toBe(303);
  client.csrf = (await client.get('/api/v1/session')).json().csrf_token;
  return back.headers.get('location')!;
}

const signInAgainLink = (pageHtml: string, providerName: string) =>
  new RegExp(`<a class="button" href="([^"]+)" data-turbo="false">Sign in again with ${providerName}</a>`).exec(pageHtml)?.[1]?.replaceAll('&amp;', '&');
const liveSessions = async (userId: string) =>
  (await server.ringside.store.db.selectFrom('sessions').select('id').where('user_id', '=', userId).where('revoked_at', 'is', null).execute()).length;

async function deskPhone(user: string, password: string): Promise<TestPhone> {
  const p = await TestPhone.start({ user, password, domain: '127.0.0.1', server: { address: '127.0.0.1', port: server.ringside.sip.ports.udp! }, userAgent: 'Yealink SIP-T46S 66.86' });
  phones.push(p);
  return p;
}

const resetOnPage = (client: HttpClient, form: Record<string, string> = {}) =>
  client.request('POST', '/settings/device-password', { form: { _csrf: client.csrf, ...form }, headers: HTML });
const resetByApi = (client: HttpClient, json: Record<string, string> = {}) => client.request('POST', '/api/v1/users/me/device-password', { json });
const shownDevicePassword = (pageHtml: string) => /<code id="device-password">([^<]+)<\/code>/.exec(pageHtml)?.[1];
const deviceHash = async (sipUsername: string) =>
  (await server.ringside.store.db.selectFrom('users').select('sip_ha1_sha256').where('sip_username', '=', sipUsername).executeTakeFirstOrThrow()).sip_ha1_sha256;

describe('a session without the login password', () => {
  it('cannot reset the device password, on the settings page or through the API: nothing changes and the phones keep working', async () => {
    const stolen = await signedIn('alice@example.com');
    const desk = await deskPhone('alice', 'ringside-demo');
    expect((await desk.register()).status).toBe(200);
    const before = await deviceHash('alice');

    const page = await stolen.get('/settings', HTML);
    expect(page.text).toMatch(/<label for="f-password">Your password/);

    for (const form of [{}, { password: 'a-guess-1234' }] as Record<string, string>[]) {
      const res = await resetOnPage(stolen, form);
      expect(res.status).toBe(400);
      expect(res.text).toContain('This is not your password.');
      expect(shownDevicePassword(res.text)).toBeUndefined();
    }
    for (const json of [{}, { password: 'a-guess-5678' }] as Record<string, string>[]) {
      const res = await resetByApi(stolen, json);
      expect(res.status).toBe(400);
      expect(res.json()).toMatchObject({ error: { field: 'password', message: 'This is not your password.' } });
      expect(res.text).not.toMatch(/device_password/);
    }

    expect(await deviceHash('alice')).toBe(before);
    expect((await desk.register()).status).toBe(200); // still alice's phone, still ringing
  });

  it('guesses the password no faster than at the login page: wrong ones count as failed sign-ins, concurrent ones too', async () => {
    const admin = await signedIn('admin@example.com');
    expect((await admin.request('POST', '/api/v1/users', { json: { email: 'tess@example.com', name: 'Tess Tan', password: 'tess-password-1' } })).status).toBe(201);
    const stolen = await signedIn('tess@example.com', 'tess-password-1');

    // Ten guesses at once: no more than the account's five may be tried.
    const guesses = await Promise.all(Array.from({ length: 10 }, (_, i) => resetByApi(stolen, { password: `guess-number-${i}` })));
    const statuses = guesses.map((g) => g.status);
    expect(statuses.filter((s) => s === 400).length).toBeLessThanOrEqual(5);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(5);

    // Paused now, even with the right password, here, at the password change and at the login page.
    const paused = await resetOnPage(stolen, { password: 'tess-password-1' });
    expect(paused.status).toBe(429);
    expect(paused.text).toContain('Too many wrong passwords. Try again in');
    expect(shownDevicePassword(paused.text)).toBeUndefined();
    const change = await stolen.request('POST', '/settings/password', { form: { _csrf: stolen.csrf, current_password: 'tess-password-1', new_password: 'thieves-password-1' }, headers: HTML });
    expect(change.status).toBe(429);
    expect((await new HttpClient(server.url).login('tess@example.com', 'tess-password-1')).status).toBe(429);
  });
});

describe('the owner, with her login password', () => {
  it('resets the device password on the settings page and sees the new one once; phones with the old one stop', async () => {
    const alice = await signedIn('alice@example.com');
    const oldDesk = await deskPhone('alice', 'ringside-demo');
    expect((await oldDesk.register()).status).toBe(200);

    const reset = await resetOnPage(alice, { password: 'ringside-demo' });
    expect(reset.status).toBe(200);
    expect(reset.headers.get('cache-control')).toContain('no-store');
    const fresh = shownDevicePassword(reset.text)!;
    expect(fresh).toMatch(/^[A-Za-z0-9_-]{20}$/);
    expect((await alice.get('/settings', HTML)).text).not.toContain(fresh);

    expect((await oldDesk.register()).status).toBe(403);
    expect((await (await deskPhone('alice', fresh)).register()).status).toBe(200);
  });

  it('resets it through the API, the new one in that answer only', async () => {
    const alice = await signedIn('alice@example.com');
    const res = await resetByApi(alice, { password: 'ringside-demo' });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toContain('no-store');
    const { device_password: fresh } = res.json();
    expect(fresh).toMatch(/^[A-Za-z0-9_-]{20}$/);
    expect((await alice.get('/api/v1/users/me')).text).not.toContain(fresh);
    expect((await (await deskPhone('1001', fresh)).register()).status).toBe(200);
  });
});

describe('a user who signs in only with single sign-on (no password she knows)', () => {
  it('is asked to sign in again with the provider when her sign-in is over 10 minutes old, and comes back to settings able to reset', async () => {
    const sam = new HttpClient(server.url);
    await followSignIn(sam, '/auth/oidc/start?provider=none-as-sam&next=/contacts');
    const { id: samId } = (await sam.get('/api/v1/users/me')).json();

    // Just signed in: no password asked, the provider has just checked who she is.
    expect((await sam.get('/settings', HTML)).text).toContain('You signed in with Corp a few minutes ago, so no password is needed.');
    const first = await resetByApi(sam);
    expect(first.status).toBe(200);
    expect(first.json().device_password).toMatch(/^[A-Za-z0-9_-]{20}$/);

    // Eleven minutes later (or a cookie stolen from her): signing in again with Corp is the only way.
    const sessionIds = (await server.ringside.store.db.selectFrom('sessions').select('id').where('user_id', '=', samId).execute()).map((r) => r.id);
    await server.ringside.store.db.updateTable('sso_sessions').set({ auth_time: nowIso(() => Date.now() - 11 * 60_000) }).where('session_id', 'in', sessionIds).execute();
    const before = await deviceHash('sam');
    const settings = await sam.get('/settings', HTML);
    expect(settings.text).toContain('To reset it, sign in again with Corp');
    expect(settings.text).not.toContain('action="/settings/device-password"');
    const link = signInAgainLink(settings.text, 'Corp');
    expect(link).toBe('/auth/oidc/start?provider=none-as-sam&next=%2Fsettings&reauth=1');

    const onPage = await resetOnPage(sam, { password: 'any-password-at-all' });
    expect(onPage.status).toBe(403);
    expect(onPage.text).toContain('To do this, sign in again with Corp: your sign-in is more than 10 minutes old.');
    expect(shownDevicePassword(onPage.text)).toBeUndefined();
    const byApi = await resetByApi(sam);
    expect(byApi.status).toBe(403);
    expect(byApi.json()).toMatchObject({ error: { code: 'sign_in_again', sign_in_url: '/auth/oidc/start?provider=none-as-sam&next=%2Fsettings&reauth=1' } });
    expect(await deviceHash('sam')).toBe(before);

    // She signs in again with Corp — which is asked to check her afresh — and lands on her settings, where the reset works.
    expect(await followSignIn(sam, link!)).toBe('/settings');
    const asked = idp.authorizeRequests.at(-1)!.searchParams;
    expect([asked.get('prompt'), asked.get('max_age')]).toEqual(['login', '0']);
    const reset = await resetOnPage(sam);
    expect(reset.status).toBe(200);
    const fresh = shownDevicePassword(reset.text)!;
    expect((await (await deskPhone('sam', fresh)).register()).status).toBe(200);
  });
});

describe('a provider that ignores “ask for the password again” (prompt=login, max_age=0)', () => {
  it('does not make the session recent: the reset stays refused, and signing in again says why and leaves the session as it was', async () => {
    // At a shared PC, the provider's session still alive: a sign-in without typing anything.
    const lee = new HttpClient(server.url);
    await followSignIn(lee, '/auth/oidc/start?provider=none-as-lee&next=/contacts');
    const { id: leeId, sip_username: leeSip } = (await lee.get('/api/v1/users/me')).json();
    const before = await deviceHash(leeSip);

    // Just signed in, but the provider asked for no password: that is no proof of the owner.
    const settings = await lee.get('/settings', HTML);
    expect(settings.text).not.toContain('action="/settings/device-password"');
    expect(settings.text).toContain('To reset it, sign in again with Lazy ID');
    expect((await resetByApi(lee)).status).toBe(403);

    // "Sign in again": the provider passes her through once more, with the same hour-old auth_time.
    const sessionsBefore = await liveSessions(leeId);
    const again = await throughProvider(lee, signInAgainLink(settings.text, 'Lazy ID')!);
    expect(again.status).toBe(401);
    expect(again.text).toContain('Lazy ID did not ask for your password again, so the device password cannot be reset; sign out of Lazy ID and try again.');
    expect(again.text).toContain('href="/settings">Back to Settings</a>');
    expect(await liveSessions(leeId)).toBe(sessionsBefore);

    // Still her session, still not recent: nothing to reset with.
    expect((await lee.get('/settings', HTML)).text).toContain('Sign in again with Lazy ID');
    const byApi = await resetByApi(lee);
    expect(byApi.status).toBe(403);
    expect(byApi.json()).toMatchObject({ error: { code: 'sign_in_again' } });
    const onPage = await resetOnPage(lee);
    expect(onPage.status).toBe(403);
    expect(shownDevicePassword(onPage.text)).toBeUndefined();
    expect(await deviceHash(leeSip)).toBe(before);
  });

  it('nor does one that never says when the password was typed (no auth_time)', async () => {
    const max = new HttpClient(server.url);
    await followSignIn(max, '/auth/oidc/start?provider=none-as-max&next=/contacts');
    const settings = await max.get('/settings', HTML);
    expect(settings.text).toContain('To reset it, sign in again with Mum ID: Mum ID did not say when you last entered your password.');
    const byApi = await resetByApi(max);
    expect(byApi.status).toBe(403);
    expect(byApi.json()).toMatchObject({ error: { message: 'To do this, sign in again with Mum ID: Mum ID did not say when you last entered your password.' } });

    const again = await throughProvider(max, signInAgainLink(settings.text, 'Mum ID')!);
    expect(again.status).toBe(401);
    expect(again.text).toContain('Mum ID did not ask for your password again, so the device password cannot be reset; sign out of Mum ID and try again.');
    expect((await resetByApi(max)).status).toBe(403);
  });
});

describe('signing in again, in Chromium with a real OpenID Connect provider', () => {
  let realIdp: OidcTestProvider;
  let sso: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    ensureWidgetBuilt();
    realIdp = await OidcTestProvider.listen();
    realIdp.accounts.set('erin@acme.test', { email: 'erin@acme.test', name: 'Erin Hannon' });
    [sso, browser] = await Promise.all([
      startServer({ env: { OIDC_ISSUER: realIdp.issuer, OIDC_CLIENT_ID: 'ringside', OIDC_CLIENT_SECRET: 'a-client-secret-for-tests', OIDC_ALLOWED_DOMAINS: 'acme.test', OIDC_NAME: 'Acme ID' } }),
      launchChromium(),
    ]);
    realIdp.configure([
      {
        client_id: 'ringside',
        client_secret: 'a-client-secret-for-tests',
        redirect_uris: [`${sso.url}/auth/oidc/callback`],
        response_types: ['code'],
        grant_types: ['authorization_code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ]);
  });
  afterAll(async () => {
    await browser?.close();
    await sso?.stop();
    await realIdp?.close();
  });

  /** Until Ringside's `path`: through the provider's login and consent pages when it shows them. */
  async function throughProvider(page: Page, path: string): Promise<void> {
    const back = page.waitForURL((url) => url.origin === sso.url && url.pathname === path);
    const login = page.locator('input[name="login"]');
    if (await Promise.race([login.waitFor().then(() => true), back.then(() => false)])) {
      await login.fill('erin@acme.test');
      await page.locator('input[name="password"]').fill('whatever-the-provider-checks');
      await page.getByRole('button', { name: 'Sign-in' }).click();
      const consent = page.getByRole('button', { name: 'Continue' });
      await Promise.race([consent.waitFor().then(() => consent.click()), back]);
    }
    await back;
  }

  /** Where the browser is after leaving for the provider: its login form, or back at Ringside (any page) without one. */
  async function landsOn(page: Page): Promise<'login form' | 'back without a password'> {
    const back = page.waitForURL((url) => url.origin === sso.url).then(() => 'back without a password' as const);
    return Promise.race([page.locator('input[name="login"]').waitFor().then(() => 'login form' as const), back]);
  }

  it('the settings page’s “Sign in again with Acme ID” makes the provider ask for the password again, though its session is alive, and comes back to settings, where the reset works', async () => {
    const context = await browser.newContext();
    // Only this machine (the provider's pages link a web font).
    await context.route('**/*', (route) => (['127.0.0.1', 'localhost'].includes(new URL(route.request().url()).hostname) ? route.continue() : route.abort()));
    const page = await context.newPage();
    await page.goto(`${sso.url}/login`);
    await page.getByRole('button', { name: 'Sign in with Acme ID' }).click();
    await throughProvider(page, '/contacts');

    // Eleven minutes later: Erin's session at Acme ID is still alive in this browser.
    const erin = (await sso.ringside.users.findByEmail('erin@acme.test'))!;
    const sessionIds = (await sso.ringside.store.db.selectFrom('sessions').select('id').where('user_id', '=', erin.id).execute()).map((r) => r.id);
    await sso.ringside.store.db.updateTable('sso_sessions').set({ auth_time: nowIso(() => Date.now() - 11 * 60_000) }).where('session_id', 'in', sessionIds).execute();
    await page.goto(`${sso.url}/settings`);
    expect(await page.getByRole('button', { name: 'Reset device password' }).count()).toBe(0);
    await page.getByRole('link', { name: 'Sign in again with Acme ID' }).click();
    // Acme ID asks for the password again instead of passing whoever sits at this browser through.
    expect(await landsOn(page)).toBe('login form');
    await throughProvider(page, '/settings');

    await page.getByRole('button', { name: 'Reset device password' }).click();
    await page.locator('main [role="status"]').filter({ hasText: 'Your new device password is below, shown only this once' }).waitFor();
    expect(await page.locator('#device-password').textContent()).toMatch(/^[A-Za-z0-9_-]{20}$/);
    await context.close();
  });
});
