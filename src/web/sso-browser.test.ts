/**
 * Single sign-on in Chromium against a real OpenID Connect provider (`oidc-provider` on
 * 127.0.0.1): sign in through its login and consent pages, the widget registers with no SIP
 * password; signing a session out elsewhere unregisters that browser's widget at once; Log out
 * offers to sign out of the provider too.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../test/support/browser.ts';
import { OidcTestProvider } from '../../test/support/oidc-provider.ts';
import { startServer, type TestServer } from '../../test/support/server.ts';
import { waitFor } from '../../test/support/wait.ts';
import { ensureWidgetBuilt, registrationStatus, waitForRegistered } from '../../test/support/widget.ts';

describe('single sign-on in the browser, with a real OpenID Connect provider', () => {
  let idp: OidcTestProvider;
  let server: TestServer;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    ensureWidgetBuilt();
    idp = await OidcTestProvider.listen();
    idp.accounts.set('carol@acme.test', { email: 'carol@acme.test', name: 'Carol Danvers', groups: ['sales'] });
    idp.accounts.set('dave@acme.test', { email: 'dave@acme.test', name: 'Dave Lister', groups: ['ringside-admins'] });
    idp.accounts.set('erin@acme.test', { email: 'erin@acme.test', name: 'Erin Hannon' });
    [server, browser] = await Promise.all([
      startServer({
        env: {
          OIDC_ISSUER: idp.issuer,
          OIDC_CLIENT_ID: 'ringside',
          OIDC_CLIENT_SECRET: 'a-client-secret-for-tests',
          OIDC_ALLOWED_DOMAINS: 'acme.test',
          OIDC_NAME: 'Acme ID',
          OIDC_GROUP_ROLES: 'ringside-admins=admin',
        },
      }),
      launchChromium(),
    ]);
    idp.configure([
      {
        client_id: 'ringside',
        client_secret: 'a-client-secret-for-tests',
        redirect_uris: [`${server.url}/auth/oidc/callback`],
        post_logout_redirect_uris: [`${server.url}/login`],
        response_types: ['code'],
        grant_types: ['authorization_code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ]);
  });
  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await idp?.close();
  });

  /** A fresh browser profile that reaches only this machine (the provider's pages link a web font). */
  async function profile(): Promise<BrowserContext> {
    const context = await browser.newContext();
    await context.route('**/*', (route) => {
      const host = new URL(route.request().url()).hostname;
      return host === '127.0.0.1' || host === 'localhost' ? route.continue() : route.abort();
    });
    contexts.push(context);
    return context;
  }

  /** Sign in with Acme ID → the provider's login page → its consent page (first time) → Ringside. */
  async function signInWithAcme(context: BrowserContext, login: string): Promise<Page> {
    const page = await context.newPage();
    await page.goto(`${server.url}/login`);
    await page.getByRole('button', { name: 'Sign in with Acme ID' }).click();
    await page.waitForURL((url) => url.origin === idp.issuer);
    await page.locator('input[name="login"]').fill(login);
    await page.locator('input[name="password"]').fill('whatever-the-provider-checks');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    const consent = page.getByRole('button', { name: 'Continue' });
    await Promise.race([consent.waitFor().then(() => consent.click()), page.waitForURL((url) => url.origin === server.url)]);
    await page.waitForURL((url) => url.origin === server.url && url.pathname === '/contacts');
    return page;
  }

  const userByEmail = (email: string) => server.ringside.users.findByEmail(email);
  const bindingsOf = async (email: string) => server.ringside.sip.location.bindings((await userByEmail(email))!.id);

  it('signs a new salesperson in through the provider’s login and consent pages; the widget registers with no SIP password', async () => {
    expect(await userByEmail('carol@acme.test')).toBeUndefined();
    const page = await signInWithAcme(await profile(), 'carol@acme.test');
    await waitForRegistered(page);
    const carol = (await userByEmail('carol@acme.test'))!;
    expect(carol).toMatchObject({ name: 'Carol Danvers', role: 'user' });
    expect(await bindingsOf('carol@acme.test')).toHaveLength(1);
    // The same session serves the REST API from the browser, and the softphone's WebSocket token.
    const fromPage = await page.evaluate(async () => {
      const me = await (await fetch('/api/v1/users/me')).json();
      const csrf = document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]')!.content;
      const token = await fetch('/api/v1/sip-token', { method: 'POST', headers: { 'x-csrf-token': csrf } });
      return { email: me.email, tokenStatus: token.status };
    });
    expect(fromPage).toEqual({ email: 'carol@acme.test', tokenStatus: 200 });
  });

  it('makes a member of the mapped group an administrator', async () => {
    const page = await signInWithAcme(await profile(), 'dave@acme.test');
    expect((await userByEmail('dave@acme.test'))!.role).toBe('admin');
    await page.getByRole('link', { name: 'Users', exact: true }).click();
    await page.getByRole('heading', { name: 'Users' }).waitFor();
  });

  it('signing a session out on the settings page unregisters that browser’s widget at once', async () => {
    const laptop = await signInWithAcme(await profile(), 'erin@acme.test');
    const desktop = await signInWithAcme(await profile(), 'erin@acme.test');
    await Promise.all([waitForRegistered(laptop), waitForRegistered(desktop)]);
    await waitFor(async () => (await bindingsOf('erin@acme.test')).length === 2, { what: 'both browsers registered' });

    await laptop.goto(`${server.url}/settings`);
    const sessions = laptop.locator('#sessions');
    const others = sessions.locator('tbody tr').filter({ hasNotText: '(this browser)' });
    expect(await sessions.locator('tbody tr').filter({ hasText: '(this browser)' }).count()).toBe(1);
    expect(await others.count()).toBe(1);
    expect(await others.first().textContent()).toContain('Acme ID');
    await others.first().getByRole('button', { name: 'Sign out' }).click();
    await laptop.getByText('That session is signed out; its phone no longer rings.').waitFor();

    // The registrar forgets the desktop's registration at once; the laptop stays registered.
    await waitFor(async () => (await bindingsOf('erin@acme.test')).length === 1, { what: 'one registration left', timeoutMs: 3000 });
    await waitFor(async () => (await registrationStatus(desktop)) !== 'registered', { what: 'the desktop widget to notice', timeoutMs: 5000 });
    expect(await registrationStatus(laptop)).toBe('registered');
    // And the desktop's pages need signing in again.
    await desktop.goto(`${server.url}/contacts`);
    expect(new URL(desktop.url()).pathname).toBe('/login');
  });

  it('Log out ends the Ringside session and offers to sign out of the provider too', async () => {
    const page = await signInWithAcme(await profile(), 'carol@acme.test');
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByText('You are signed out of Ringside.').waitFor();
    await page.getByRole('link', { name: 'Sign out of Acme ID too' }).click();
    await page.waitForURL((url) => url.origin === idp.issuer);
    await page.getByRole('button', { name: 'Yes, sign me out' }).click();
    await page.waitForURL((url) => url.origin === server.url && url.pathname === '/login');
    // Signing in again asks the provider for the password again.
    await page.getByRole('button', { name: 'Sign in with Acme ID' }).click();
    await page.locator('input[name="login"]').waitFor();
  });
});
