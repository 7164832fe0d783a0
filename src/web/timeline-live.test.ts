/**
 * The open record page's Activity timeline follows the calls by itself (real Chromium, the built-in
 * test caller on the trunk side): when a call with the record ends, and when its wrap-up notes are
 * saved, the list reloads in place (its Turbo Frame) while what the user typed on the page stays.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../test/support/browser.ts';
import { HttpClient, startServer, type TestServer } from '../../test/support/server.ts';
import { ensureWidgetBuilt, panelButton, signedInPage, waitForRegistered } from '../../test/support/widget.ts';

const JANE_WORK = '+14155550134';

describe('the record page’s timeline shows new activity without a reload', () => {
  let server: TestServer;
  let browser: Browser;
  let api: HttpClient;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    ensureWidgetBuilt();
    [server, browser] = await Promise.all([startServer(), launchChromium()]);
    api = new HttpClient(server.url);
    expect((await api.login('alice@example.com')).status).toBe(200);
  });
  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  async function janeId(): Promise<string> {
    const found = (await api.get(`/api/v1/contacts?q=${encodeURIComponent('jane@acme.com')}`)).json() as { data: { id: string }[] };
    return found.data[0]!.id;
  }

  async function signedIn(path: string): Promise<Page> {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await signedInPage(context, server.url, 'alice@example.com', path);
    await waitForRegistered(page, 15_000);
    return page;
  }

  const panel = (page: Page) => page.locator('#ringside-softphone');

  it('a call from Jane, answered on her contact page, appears on her timeline with its notes while the note being typed stays', { timeout: 60_000 }, async () => {
    const jane = await janeId();
    const alice = await signedIn(`/contacts/${jane}`);
    const timeline = alice.locator('#activity .timeline');
    const before = await timeline.locator('.timeline-item').count();
    expect(await alice.locator('.timeline-subject', { hasText: 'Inbound call from' }).count()).toBe(0);
    // The page itself must not be replaced: a mark on its document survives only in place.
    await alice.evaluate(() => document.getElementById('main')!.setAttribute('data-test-mark', 'original'));

    // Alice starts a note on Jane's page…
    await alice.getByLabel('Note', { exact: true }).fill('Follow up on pricing');
    await alice.getByRole('textbox', { name: 'Details' }).fill('Half written when the phone rang');

    // …when Jane calls; Alice answers, and Jane hangs up after a second.
    const call = server.ringside.sip.testCall({ to: 'alice', from: JANE_WORK, durationS: 1 });
    await panelButton(alice, 'Answer').click({ timeout: 15_000 });
    await call;

    // The call is on the timeline by itself, first, as the answered inbound call it was.
    const logged = timeline.locator('.timeline-item').first();
    await logged.locator('.timeline-subject', { hasText: 'Inbound call from' }).waitFor({ timeout: 15_000 });
    expect(await logged.locator('.timeline-subject').textContent()).toContain('(+1 415 555 0134)');
    expect(await logged.locator('.timeline-meta').textContent()).toMatch(/Inbound\s*·\s*answered/);
    expect(await timeline.locator('.timeline-item').count()).toBe(before + 1);

    // Nothing else on the page moved: the same document, the note as typed.
    expect(await alice.locator('#main').getAttribute('data-test-mark')).toBe('original');
    expect(await alice.getByLabel('Note', { exact: true }).inputValue()).toBe('Follow up on pricing');
    expect(await alice.getByRole('textbox', { name: 'Details' }).inputValue()).toBe('Half written when the phone rang');

    // Wrap-up notes typed in the phone after the call show under the call, the page's note still kept.
    const wrapUp = panel(alice).getByRole('region', { name: /^Wrap-up of the call with/ });
    await wrapUp.getByLabel('Wrap-up notes').fill('Wants a quote for 40 seats');
    await wrapUp.locator('.sp-notes-state', { hasText: 'Saved' }).waitFor();
    await logged.locator('.timeline-body', { hasText: 'Wants a quote for 40 seats' }).waitFor({ timeout: 15_000 });
    expect(await wrapUp.getByLabel('Wrap-up notes').inputValue()).toBe('Wants a quote for 40 seats');
    expect(await alice.getByLabel('Note', { exact: true }).inputValue()).toBe('Follow up on pricing');
    expect(await alice.locator('#main').getAttribute('data-test-mark')).toBe('original');

    // The note form still works as before: it saves, and the page shows the note.
    await alice.getByRole('button', { name: 'Add note' }).click();
    await alice.locator('.timeline-subject', { hasText: 'Follow up on pricing' }).waitFor();
  });

  it('serves the timeline alone, as the same frame, to the signed-in only', async () => {
    const jane = await janeId();
    const res = await api.get(`/contacts/${jane}/timeline`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(res.text).toContain(`<turbo-frame id="timeline-contact-${jane}"`);
    expect(res.text).toContain('timeline-item');
    expect(res.text).not.toContain('note-form');

    // An account's timeline holds its contacts' activities: its frame names them, so their calls reload it.
    const { account_id: acme } = (await api.get(`/api/v1/contacts/${jane}`)).json() as { account_id: string };
    const account = await api.get(`/accounts/${acme}/timeline`);
    expect(account.status).toBe(200);
    expect(account.text).toMatch(new RegExp(`data-timeline-records="account:${acme}[^"]* contact:${jane}`));

    const anonymous = new HttpClient(server.url);
    const denied = await anonymous.get(`/contacts/${jane}/timeline`);
    expect(denied.status).toBe(303);
    expect(denied.headers.get('location')).toMatch(/^\/login/);
    expect(denied.text).not.toContain('timeline-item');
    expect((await api.get('/contacts/00000000-0000-4000-8000-000000000000/timeline')).status).toBe(404);
  });
});
