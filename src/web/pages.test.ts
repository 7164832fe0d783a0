import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../test/support/browser.ts';
import { startServer, type TestServer } from '../../test/support/server.ts';
import { TestPhone } from '../../test/support/sip-phone.ts';

describe('built-in CRM pages in Chromium', () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startServer({ env: { LOGIN_MAX_FAILURES_PER_ACCOUNT: '2' } }), launchChromium()]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  async function signedIn(email = 'alice@example.com'): Promise<Page> {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${server.url}/contacts`);
    await expect.poll(() => page.url()).toContain('/login');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill('ringside-demo');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/contacts$/);
    return page;
  }

  it('signs in, lists contacts, and finds one by a number typed in any format', async () => {
    const page = await signedIn();
    await expect.poll(() => page.getByRole('row').count()).toBeGreaterThan(40);
    for (const typed of ['4155550134', '+1 (415) 555-0134', '415.555.0134']) {
      await page.getByLabel('Find contacts').fill(typed);
      await page.getByRole('button', { name: 'Search' }).click();
      await page.waitForURL(/q=/);
      const names = await page.locator('table.records tbody tr td:first-child a').allTextContents();
      expect(names, typed).toEqual(['Jane Doe']);
    }
    await page.close();
  });

  it('shows a contact with a 📞 call button per number and a ✉ invite button, reachable by keyboard', async () => {
    const page = await signedIn();
    await page.getByLabel('Find contacts').fill('jane');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: 'Jane Doe' }).click();
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Jane Doe');

    const call = page.getByRole('button', { name: 'Call +1 415 555 0134' });
    const invite = page.getByRole('button', { name: 'Invite jane@acme.com to video call' });
    expect(await call.textContent()).toContain('📞');
    expect(await invite.textContent()).toContain('✉');
    expect(await call.isVisible()).toBe(true);
    expect(await page.getByRole('button', { name: 'Call +1 415 555 0101' }).count()).toBe(1);

    // Tab from the top of the page reaches both buttons.
    const reached = new Set<string>();
    await page.locator('body').focus();
    for (let i = 0; i < 40 && reached.size < 2; i++) {
      await page.keyboard.press('Tab');
      const name = await page.evaluate(() => document.activeElement?.getAttribute('aria-label') ?? '');
      if (name === 'Call +1 415 555 0134' || name === 'Invite jane@acme.com to video call') reached.add(name);
    }
    expect(reached.size).toBe(2);

    // The timeline shows the seeded history.
    expect(await page.locator('.timeline-item').count()).toBeGreaterThanOrEqual(3);
    await page.close();
  });

  it('shows names with markup as text everywhere, never as markup', async () => {
    const page = await signedIn();
    await page.goto(`${server.url}/contacts/new`);
    const hostile = '<img src=x onerror="window.__pwned=1">';
    await page.getByLabel('First name').fill(hostile);
    await page.getByLabel('Last name').fill('<script>window.__pwned=2</script>');
    await page.getByLabel('Work phone').fill('(312) 555-0177');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.waitForURL(/\/contacts\/[0-9a-f-]{36}$/);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe(`${hostile} <script>window.__pwned=2</script>`);
    expect(await page.locator('main img').count()).toBe(0);

    await page.goto(`${server.url}/contacts?q=${encodeURIComponent('312 555 0177')}`);
    expect(await page.locator('table.records tbody tr td:first-child a').textContent()).toBe(`${hostile} <script>window.__pwned=2</script>`);
    await page.goto(`${server.url}/contacts?q=${encodeURIComponent('<b>bold</b>')}`);
    expect(await page.locator('.empty').textContent()).toContain('<b>bold</b>');
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    await page.close();
  });

  it('keeps the form and marks the field when input is invalid, saving nothing', async () => {
    const page = await signedIn();
    await page.goto(`${server.url}/contacts/new`);
    await page.getByLabel('First name').fill('Val');
    await page.getByLabel('Last name').fill('Idation');
    await page.getByLabel('Email').fill('not an email');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('alert').filter({ hasText: 'Enter a valid email address' }).waitFor();
    expect(await page.getByLabel('Email').getAttribute('aria-invalid')).toBe('true');
    expect(await page.getByLabel('First name').inputValue()).toBe('Val');
    await page.goto(`${server.url}/contacts?q=Idation`);
    expect(await page.locator('.empty').count()).toBe(1);
    await page.close();
  });

  it('does not let a second editor silently overwrite the first one’s change', async () => {
    const first = await signedIn();
    const second = await signedIn('bob@example.com');
    await first.goto(`${server.url}/contacts?q=jane`);
    await first.getByRole('link', { name: 'Jane Doe' }).click();
    await first.waitForURL(/\/contacts\/[0-9a-f-]{36}$/);
    const editUrl = `${first.url()}/edit`;
    await first.goto(editUrl);
    await second.goto(editUrl);
    await first.getByLabel('Title').fill('Chief Revenue Officer');
    await first.getByRole('button', { name: 'Save' }).click();
    await first.waitForURL(/\/contacts\/[0-9a-f-]{36}$/);
    await second.getByLabel('Title').fill('Intern');
    await second.getByRole('button', { name: 'Save' }).click();
    expect(await second.getByRole('alert').textContent()).toContain('Someone else saved this contact while you were editing');
    expect(await second.getByLabel('Title').inputValue()).toBe('Intern');
    await first.reload();
    expect(await first.locator('.subtitle').textContent()).toContain('Chief Revenue Officer');
    await first.close();
    await second.close();
  });

  it('tells a user clearly when sign-in is paused after repeated failures', async () => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${server.url}/login`);
    for (let i = 0; i < 3; i++) {
      await page.getByLabel('Email').fill('bob@example.com');
      await page.getByLabel('Password').fill('wrong password');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForLoadState();
    }
    expect(await page.getByRole('alert').textContent()).toMatch(/Too many failed sign-in attempts for this account\. Try again in \d+ minutes?\./);
    await page.close();
  });

  it('shows a user their phone settings and registered devices, and resets the device password (shown once)', async () => {
    const port = server.ringside.sip.ports.udp!;
    const desk = await TestPhone.start({ user: 'alice', password: 'ringside-demo', domain: '127.0.0.1', server: { address: '127.0.0.1', port }, userAgent: 'Yealink SIP-T46S 66.86' });
    try {
      expect((await desk.register()).status).toBe(200);
      const page = await signedIn('alice@example.com');
      await page.goto(`${server.url}/settings`);
      const section = page.getByRole('region', { name: 'Desk phones and softphones' });
      expect(await section.textContent()).toContain('alice');
      expect(await section.locator('.device-list li', { hasText: 'Yealink (UDP)' }).count()).toBe(1);
      // Only a hash is kept: the page never shows the current device password.
      expect(await page.locator('#device-password').count()).toBe(0);
      expect(await section.textContent()).not.toContain('ringside-demo');

      await page.getByLabel('Your password').fill('ringside-demo'); // a stolen session alone cannot reset it
      await page.getByRole('button', { name: 'Reset device password' }).click();
      await page.locator('main [role="status"]').filter({ hasText: 'Your new device password is below, shown only this once' }).waitFor();
      const fresh = (await page.locator('#device-password').textContent())!;
      expect(await page.locator('.device-list li', { hasText: 'Yealink' }).count()).toBe(0); // the old registration is gone
      expect((await desk.register()).status).toBe(403);
      await page.goto(`${server.url}/settings`);
      expect(await page.locator('#device-password').count()).toBe(0); // never shown again
      const renewed = await TestPhone.start({ user: 'alice', password: fresh, domain: '127.0.0.1', server: { address: '127.0.0.1', port } });
      expect((await renewed.register()).status).toBe(200);
      await renewed.close();
      await page.close();
    } finally {
      await desk.close();
    }
  });

  it('signs out', async () => {
    const page = await signedIn();
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(/\/login\?signed_out=1/);
    await page.goto(`${server.url}/contacts`);
    expect(page.url()).toContain('/login');
    await page.close();
  });
});
