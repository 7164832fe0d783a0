/**
 * Every page a person meets passes axe-core's WCAG 2.1 A and AA rules of serious or critical impact
 * (colour contrast, labels, names…), in real Chromium: the CRM's lists, record pages and forms,
 * settings and the admin pages, the sign-in page, the invite dialog open, the guest's join page,
 * the phone panel idle and ringing, and the Salesforce softphone page. axe-core is run in the page
 * through Playwright's evaluate (the pages' CSP allows only their own scripts, and evaluate is not
 * a script element), so the pages are checked exactly as served.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../test/support/browser.ts';
import { HttpClient, startServer, type TestServer } from '../../test/support/server.ts';
import { ensureWidgetBuilt, LOOPBACK_ONLY_ICE, panelButton, signedInPage, waitForRegistered } from '../../test/support/widget.ts';

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const WCAG_21_AA = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const MINUTE = 60_000;

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[]; failureSummary?: string }[];
}

/** axe-core's serious and critical WCAG 2.1 AA violations on the page as it is now, one line per element. */
async function seriousViolations(page: Page): Promise<string[]> {
  const violations = await page.evaluate(
    async ({ source, tags }) => {
      const w = window as unknown as { axe?: { run(context: Document, options: object): Promise<{ violations: AxeViolation[] }> } };
      // axe-core's own source, run by the test driver (the page's CSP does not apply to it).
      if (!w.axe) new Function(source)();
      const result = await w.axe!.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
      return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target, failureSummary: n.failureSummary })) }));
    },
    { source: AXE_SOURCE, tags: WCAG_21_AA },
  );
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .flatMap((v) => v.nodes.map((n) => `${v.id} (${v.impact}) ${JSON.stringify(n.target)}: ${v.help}\n    ${(n.failureSummary ?? '').replace(/\n/g, '\n    ')}`));
}

async function expectAccessible(page: Page, what: string): Promise<void> {
  const found = await seriousViolations(page);
  expect(found, `axe-core on ${what}:\n${found.join('\n')}`).toEqual([]);
}

describe('accessibility (axe-core, WCAG 2.1 AA, serious and critical)', () => {
  let server: TestServer;
  let browser: Browser;
  let api: HttpClient;
  let ids: { contact: string; account: string; lead: string; user: string; invitation: string };
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    ensureWidgetBuilt();
    [server, browser] = await Promise.all([startServer({ env: { SIP_RING_TIMEOUT_S: '30' } }), launchChromium()]);
    api = new HttpClient(server.url);
    expect((await api.login('alice@example.com')).status).toBe(200);
    const first = async (path: string) => ((await api.get(path)).json().data as { id: string }[])[0]!.id;
    ids = {
      contact: await first('/api/v1/contacts?q=jane%40acme.com'),
      account: await first('/api/v1/accounts'),
      lead: await first('/api/v1/leads'),
      user: await first('/api/v1/users'),
      invitation: (await invite(Date.now() + 60 * MINUTE)).id,
    };
  }, 120_000);
  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  /** An invitation for Sam from Alice, starting at the whole minute of `startsAt`. */
  async function invite(startsAt: number): Promise<{ id: string; link: string }> {
    const start = Math.floor(startsAt / MINUTE) * MINUTE;
    const res = await api.request('POST', '/api/v1/invitations', {
      json: { email: 'sam@example.org', guest_name: 'Sam Guest', starts_at: new Date(start).toISOString(), ends_at: new Date(start + 30 * MINUTE).toISOString() },
    });
    expect(res.status).toBe(201);
    return res.json().invitation as { id: string; link: string };
  }

  async function newContext(): Promise<BrowserContext> {
    const context = await browser.newContext({ locale: 'en-US' });
    contexts.push(context);
    return context;
  }

  /** Alice (an admin) signed in, her phone registered. */
  async function alice(path = '/contacts'): Promise<Page> {
    const page = await signedInPage(await newContext(), server.url, 'alice@example.com', path);
    await waitForRegistered(page);
    return page;
  }

  /** Each path's violations, prefixed by the path, so one run names every page that fails. */
  async function violationsOn(page: Page, paths: string[]): Promise<string[]> {
    const failures: string[] = [];
    for (const path of paths) {
      const response = await page.goto(`${server.url}${path}`);
      expect(response?.status(), path).toBe(200);
      await page.locator('#ringside-softphone').waitFor({ state: 'attached' });
      const found = await seriousViolations(page);
      if (found.length) failures.push(`${path}:\n  ${found.join('\n  ')}`);
    }
    return failures;
  }

  it('the sign-in page', async () => {
    const page = await (await newContext()).newPage();
    await page.goto(`${server.url}/login`);
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await expectAccessible(page, '/login');
  }, 60_000);

  it('the CRM pages: lists, record pages, forms, settings, admin users, sessions and invitations', async () => {
    const page = await alice();
    const paths = [
      '/contacts',
      `/contacts/${ids.contact}`,
      '/contacts/new',
      `/contacts/${ids.contact}/edit`,
      '/accounts',
      `/accounts/${ids.account}`,
      '/accounts/new',
      `/accounts/${ids.account}/edit`,
      '/leads',
      `/leads/${ids.lead}`,
      '/leads/new',
      `/leads/${ids.lead}/edit`,
      '/settings',
      '/invitations',
      '/invitations/new',
      `/invitations/${ids.invitation}`,
      '/phone',
    ];
    const failures = await violationsOn(page, paths);
    // The admin's pages, as the seed's admin sees them.
    const admin = await signedInPage(await newContext(), server.url, 'admin@example.com', '/admin/users');
    failures.push(...(await violationsOn(admin, ['/admin/users', `/admin/users/${ids.user}/sessions`, '/settings'])));
    expect(failures, failures.join('\n')).toEqual([]);
  }, 180_000);

  it('a record page with the invite dialog open, before and after sending', async () => {
    const page = await alice(`/contacts/${ids.contact}`);
    await page.getByRole('button', { name: 'Invite jane@acme.com to video call' }).click();
    const dialog = page.getByRole('dialog', { name: 'Invite to video call' });
    await dialog.waitFor();
    await expect.poll(() => dialog.getByLabel('Start').inputValue()).not.toBe('');
    await expectAccessible(page, 'the invite dialog');
    await dialog.getByRole('button', { name: 'Send invitation' }).click();
    await dialog.getByLabel('Join link').waitFor();
    await expectAccessible(page, 'the invite dialog with the join link');
  }, 60_000);

  it('the phone panel while a call rings, in the call, and with the recent calls after it', async () => {
    const page = await alice('/contacts');
    const call = server.ringside.sip.testCall({ to: 'alice', from: '+14155550134', durationS: 30 });
    await panelButton(page, 'Answer').waitFor();
    await page.locator('#ringside-softphone .sp-remote-name', { hasText: 'Jane Doe' }).waitFor({ timeout: 3000 });
    await expectAccessible(page, 'the ringing phone panel');
    await panelButton(page, 'Answer').click();
    await page.locator('#ringside-softphone').getByRole('timer').waitFor();
    await expectAccessible(page, 'the phone panel in a call');
    await panelButton(page, 'Hang up').click();
    await call;
    await page.locator('#ringside-softphone').getByLabel('Number', { exact: true }).waitFor({ timeout: 10_000 });
    await page.getByRole('list', { name: 'Recent calls' }).getByRole('listitem').first().waitFor();
    await expectAccessible(page, 'the phone panel with recent calls');
  }, 60_000);

  it('the phone panel’s record picker for a shared number, and its Add contact form for an unknown caller', async () => {
    const page = await alice('/contacts');
    const panel = page.locator('#ringside-softphone');
    const shared = server.ringside.sip.testCall({ to: 'alice', from: '+13035550199', durationS: 30 });
    await panelButton(page, 'Answer').waitFor();
    await panel.getByRole('radiogroup', { name: 'Which record is this call about?' }).waitFor();
    await expectAccessible(page, 'the record picker while ringing');
    await panelButton(page, 'Answer').click();
    await panel.getByRole('timer').waitFor();
    await expectAccessible(page, 'the record picker in the call');
    await panelButton(page, 'Hang up').click();
    await shared;
    await panel.getByLabel('Number', { exact: true }).waitFor({ timeout: 10_000 });

    const unknown = server.ringside.sip.testCall({ to: 'alice', from: '+13125550843', durationS: 30 });
    await panelButton(page, 'Answer').click();
    await panel.getByRole('timer').waitFor();
    await panelButton(page, 'Add contact').click();
    await panel.getByRole('form', { name: 'Add contact' }).waitFor();
    await expectAccessible(page, 'the Add contact form in the panel');
    await panelButton(page, 'Hang up').click();
    await unknown;
  }, 60_000);

  it('the guest join page: the countdown, the join form, and in the call (with the host’s panel)', async () => {
    const context = await newContext();
    await context.addInitScript(LOOPBACK_ONLY_ICE);
    const guest = await context.newPage();

    await guest.goto((await invite(Date.now() + 2 * 60 * MINUTE)).link);
    await guest.getByRole('timer').waitFor();
    await expectAccessible(guest, 'the join page before its window');

    await guest.goto((await invite(Date.now())).link);
    await guest.getByRole('button', { name: 'Join call' }).waitFor();
    await guest.waitForFunction(() => (document.getElementById('guest-preview') as HTMLVideoElement | null)?.videoWidth, undefined, { timeout: 10_000 });
    await expectAccessible(guest, 'the join page');

    // In the call with Alice, on both sides.
    const host = await alice('/contacts');
    await guest.getByRole('button', { name: 'Join call' }).click();
    await panelButton(host, 'Answer').waitFor({ timeout: 15_000 });
    await panelButton(host, 'Answer').click();
    await expect.poll(() => guest.locator('#guest-status').textContent(), { timeout: 20_000 }).toBe('In the call with Alice Adams');
    await expectAccessible(guest, 'the guest page in a call');
    await expectAccessible(host, 'the phone panel in a video call with a guest');
    await guest.getByRole('button', { name: 'Hang up' }).click();
    await host.locator('#ringside-softphone').getByLabel('Number', { exact: true }).waitFor({ timeout: 10_000 });
  }, 90_000);

  it('the Salesforce softphone page, signed out and signed in through its popup', async () => {
    const context = await newContext();
    await context.addInitScript(LOOPBACK_ONLY_ICE);
    const page = await context.newPage();
    await page.goto(`${server.url}/salesforce/softphone`);
    const signIn: Locator = page.getByRole('button', { name: 'Sign in to Ringside' });
    await signIn.waitFor();
    await expectAccessible(page, '/salesforce/softphone signed out');

    const popupOpened = context.waitForEvent('page');
    await signIn.click();
    const popup = await popupOpened;
    await popup.waitForURL((u) => u.pathname === '/login');
    await popup.getByLabel('Email').fill('alice@example.com');
    await popup.getByLabel('Password').fill('ringside-demo');
    await popup.getByRole('button', { name: 'Sign in' }).click();
    await popup.waitForEvent('close', { timeout: 10_000 });
    // The panel, signed in. (Opened at the top level rather than framed by an org, its SIP socket
    // is refused, so it shows offline: ringing inside Salesforce is the same panel as above.)
    await page.locator('#ringside-softphone').getByLabel('Number', { exact: true }).waitFor();
    await page.getByRole('list', { name: 'Recent calls' }).waitFor();
    await expectAccessible(page, '/salesforce/softphone signed in');
  }, 60_000);
});
