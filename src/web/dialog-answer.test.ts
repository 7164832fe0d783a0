/**
 * A dialog blocks the page, never the phone (issue 15, item 1): with the invite dialog open —
 * showing the join link after sending, or with a half-written invitation — a call that rings is
 * answered from the panel by mouse, and by keyboard alone (Tab or Shift+Tab to Answer, then Enter
 * or Space), and connects (the built-in test caller gets the user's audio). The page behind the
 * dialog stays blocked, the dialog keeps what it holds, Escape still closes it. Real Chromium.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../test/support/browser.ts';
import { HttpClient, startServer, type TestServer } from '../../test/support/server.ts';
import { ensureWidgetBuilt, panelButton, signedInPage, waitForRegistered } from '../../test/support/widget.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CALLER = '+13125550177';
/** How many key presses may separate the dialog from Answer: a few, not a tour of the page. */
const MAX_PRESSES = 8;

describe('an open dialog never blocks the phone', () => {
  let server: TestServer;
  let browser: Browser;
  let janeId: string;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    ensureWidgetBuilt();
    [server, browser] = await Promise.all([startServer({ env: { SIP_RING_TIMEOUT_S: '30' } }), launchChromium()]);
    const api = new HttpClient(server.url);
    expect((await api.login('alice@example.com')).status).toBe(200);
    janeId = (await api.get('/api/v1/contacts?q=jane%40acme.com')).json().data[0].id;
  }, 120_000);
  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  /** Alice on Jane's contact page, her phone registered. */
  async function aliceOnJane(): Promise<Page> {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await signedInPage(context, server.url, 'alice@example.com', `/contacts/${janeId}`);
    await waitForRegistered(page);
    return page;
  }

  async function openInviteDialog(page: Page): Promise<Locator> {
    await page.getByRole('button', { name: 'Invite jane@acme.com to video call' }).click();
    const dialog = page.getByRole('dialog', { name: 'Invite to video call' });
    await dialog.waitFor();
    await expect.poll(() => dialog.getByLabel('Start').inputValue()).not.toBe('');
    return dialog;
  }

  /** Sends the invitation: the dialog then shows the join link (and focus is on Close). */
  async function sendInvitation(dialog: Locator): Promise<string> {
    await dialog.getByRole('button', { name: 'Send invitation' }).click();
    const link = await dialog.getByLabel('Join link').inputValue();
    expect(link).toMatch(/\/join\/[A-Za-z0-9_-]{44}$/);
    return link;
  }

  type TestCall = ReturnType<TestServer['ringside']['sip']['testCall']>;

  /** A call from the built-in test caller, once it rings in the panel. `ended` resolves with what the caller got. */
  async function ring(page: Page, durationS = 2): Promise<{ ended: TestCall }> {
    const ended = server.ringside.sip.testCall({ to: 'alice', from: CALLER, durationS });
    await panelButton(page, 'Answer').waitFor({ timeout: 10_000 });
    return { ended };
  }

  /** The call connected: the panel counts its time, the caller got audio from Alice's browser. */
  async function expectConnected(page: Page, call: { ended: TestCall }) {
    await page.locator('#ringside-softphone').getByRole('timer').waitFor({ timeout: 10_000 });
    const result = await call.ended;
    expect(result.status).toBe(200);
    expect(result.packetsReceived).toBeGreaterThan(0);
    await page.locator('#ringside-softphone').getByLabel('Number', { exact: true }).waitFor({ timeout: 15_000 }); // idle again
  }

  const focusedIsAnswer = (page: Page) =>
    page.evaluate(() => {
      const focused = document.activeElement;
      return focused instanceof HTMLButtonElement && focused.closest('#ringside-softphone') !== null && focused.textContent?.trim() === 'Answer';
    });

  /** Presses `key` until Answer has the focus; how many presses it took. */
  async function pressUntilAnswer(page: Page, key: string): Promise<number> {
    const path: string[] = [];
    for (let presses = 1; presses <= MAX_PRESSES; presses++) {
      await page.keyboard.press(key);
      if (await focusedIsAnswer(page)) return presses;
      path.push(await page.evaluate(() => `${document.activeElement?.tagName ?? '-'}:${(document.activeElement?.textContent ?? '').trim().slice(0, 20)}`));
    }
    throw new Error(`${key} never reached Answer; the focus went ${path.join(' → ')}`);
  }

  /** A click on the main navigation's Contacts link, where a user would click it. */
  async function clickBehindDialog(page: Page): Promise<void> {
    const box = (await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Contacts' }).boundingBox())!;
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  }

  it('with the join link shown, a ringing call is answered by mouse and connects; the dialog and its link stay, the page behind stays blocked', async () => {
    const alice = await aliceOnJane();
    const dialog = await openInviteDialog(alice);
    const link = await sendInvitation(dialog);

    const call = await ring(alice);
    await panelButton(alice, 'Answer').click({ timeout: 5000 });
    await expectConnected(alice, call);

    expect(await dialog.isVisible()).toBe(true);
    expect(await dialog.getByLabel('Join link').inputValue()).toBe(link);
    // Still modal for the page: a click on the navigation behind it goes nowhere.
    await clickBehindDialog(alice);
    expect(new URL(alice.url()).pathname).toBe(`/contacts/${janeId}`);
    expect(await dialog.isVisible()).toBe(true);
    await dialog.getByRole('button', { name: 'Close' }).click();
    await dialog.waitFor({ state: 'detached' });
  });

  it('with the join link shown, keyboard only: Tab reaches Answer and Enter answers; on the next call Shift+Tab reaches it and Space answers', async () => {
    const alice = await aliceOnJane();
    const dialog = await openInviteDialog(alice);
    await sendInvitation(dialog);
    await dialog.getByRole('button', { name: 'Close' }).waitFor();
    expect(await alice.evaluate(() => document.activeElement?.textContent)).toBe('Close'); // focus in the dialog

    const first = await ring(alice);
    expect(await pressUntilAnswer(alice, 'Tab')).toBeLessThanOrEqual(MAX_PRESSES);
    await alice.keyboard.press('Enter');
    await expectConnected(alice, first);

    // Back in the dialog (its first control, the link), the next call: backwards to Answer.
    await dialog.getByLabel('Join link').focus();
    const second = await ring(alice);
    expect(await pressUntilAnswer(alice, 'Shift+Tab')).toBeLessThanOrEqual(MAX_PRESSES);
    await alice.keyboard.press(' ');
    await expectConnected(alice, second);
    expect(await dialog.isVisible()).toBe(true);
  });

  it('on a narrow screen (the panel below the page), with a half-written invitation, the call is answered by mouse and the draft is kept; then it is sent, and Escape closes the dialog back to the ✉ button', async () => {
    const alice = await aliceOnJane();
    await alice.setViewportSize({ width: 700, height: 700 });
    const dialog = await openInviteDialog(alice);
    await dialog.getByLabel('Message (optional)').fill('About the renewal');
    await clickBehindDialog(alice);
    expect(new URL(alice.url()).pathname).toBe(`/contacts/${janeId}`);

    const call = await ring(alice);
    await panelButton(alice, 'Answer').click({ timeout: 5000 });
    await expectConnected(alice, call);

    expect(await dialog.getByLabel('Message (optional)').inputValue()).toBe('About the renewal');
    expect(await dialog.getByLabel('Email').inputValue()).toBe('jane@acme.com');
    // The panel (scrolled into view for Answer) is drawn above the dialog: scrolled away, the
    // dialog is in reach again.
    await alice.mouse.move(20, 20);
    await alice.mouse.wheel(0, -5000);
    await expect.poll(() => alice.evaluate(() => window.scrollY)).toBe(0);
    await sendInvitation(dialog);
    await alice.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    expect(await alice.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('Invite jane@acme.com to video call');
    // The page works again.
    await alice.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Contacts' }).click();
    await alice.waitForURL((url) => url.pathname === '/contacts');
  });

  it('following the dialog’s link to the invitation and coming Back finds the contact page usable, with no dialog left over', async () => {
    const alice = await aliceOnJane();
    const dialog = await openInviteDialog(alice);
    await sendInvitation(dialog);
    await dialog.getByRole('link', { name: 'Open the invitation' }).click();
    await alice.waitForURL((url) => url.pathname.startsWith('/invitations/'));
    await alice.goBack();
    await alice.waitForURL((url) => url.pathname === `/contacts/${janeId}`);
    await alice.getByRole('heading', { name: 'Jane Doe' }).first().waitFor();
    expect(await alice.getByRole('dialog').count()).toBe(0);
    expect(await alice.locator('[inert], .page-modal-backdrop').count()).toBe(0);
    // The page's own buttons work again.
    await openInviteDialog(alice);
  });

  it('every dialog of the web pages opens with showPageModal, none with showModal()', () => {
    const offenders: string[] = [];
    const scan = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const file = path.join(dir, entry.name);
        if (entry.isDirectory()) scan(file);
        else if (/\.(ts|tsx)$/.test(entry.name) && !file.endsWith(path.join('web', 'src', 'page-modal.ts'))) {
          if (/\.showModal\s*\(/.test(readFileSync(file, 'utf8'))) offenders.push(path.relative(ROOT, file));
        }
      }
    };
    scan(path.join(ROOT, 'web/src'));
    scan(path.join(ROOT, 'src/web'));
    expect(offenders).toEqual([]);
  });
});
