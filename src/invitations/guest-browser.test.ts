/**
 * Video invitations in real browsers: Alice invites Jane Doe from her contact page with the ✉
 * dialog, the mail reaches a real SMTP server, Jane opens the link in another Chromium profile
 * and joins; Alice's widget rings with Jane's name and answers; video flows both ways; the call is
 * logged once on Jane's contact. Also: the countdown before the window (and the join form when it
 * opens, by moved clocks), and the dialog's field errors with nothing sent.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH, launchChromium } from '../../test/support/browser.ts';
import { HttpClient, startServer, type TestServer } from '../../test/support/server.ts';
import { TestSmtpServer } from '../../test/support/smtp.ts';
import { waitFor } from '../../test/support/wait.ts';
import { ensureWidgetBuilt, LOOPBACK_ONLY_ICE, panelButton, signedInPage, waitForMedia, waitForRegistered } from '../../test/support/widget.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

interface Activity {
  kind: string;
  subject: string;
  direction: string | null;
  disposition: string | null;
}

describe('video invitations in the browser', () => {
  let smtp: TestSmtpServer;
  let server: TestServer;
  let browser: Browser;
  // Real time, moved forward when a test needs the link's window open.
  let shift = 0;
  const clock = () => Date.now() + shift;
  let api: HttpClient;
  let janeId: string;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    ensureWidgetBuilt();
    smtp = await TestSmtpServer.start();
    [server, browser] = await Promise.all([startServer({ env: { SMTP_URL: smtp.url, SIP_RING_TIMEOUT_S: '30' }, clock }), launchChromium()]);
    api = new HttpClient(server.url);
    expect((await api.login('alice@example.com')).status).toBe(200);
    janeId = (await api.get('/api/v1/contacts?q=jane%40acme.com')).json().data[0].id;
  }, 120_000);
  afterEach(async () => {
    shift = 0;
    await Promise.all(contexts.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await smtp?.close();
  });

  async function profile(): Promise<BrowserContext> {
    const context = await browser.newContext();
    contexts.push(context);
    return context;
  }

  /** A guest's browser: no session, loopback-only ICE like the widget's tests. */
  async function guestPage(options: { timezoneId?: string } = {}): Promise<Page> {
    const context = await browser.newContext({ locale: 'en-US', ...options });
    contexts.push(context);
    await context.addInitScript(LOOPBACK_ONLY_ICE);
    return context.newPage();
  }

  const panel = (page: Page) => page.locator('#ringside-softphone');
  const janesActivities = async () => (await api.get(`/api/v1/activities?record_type=contact&record_id=${janeId}`)).json().data as Activity[];
  /** `YYYY-MM-DDTHH:mm` in Alice's zone (the seed's), as the dialog's fields hold it. */
  const local = (ms: number) =>
    new Intl.DateTimeFormat('sv-SE', { timeZone: 'America/Los_Angeles', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' }).format(ms).replace(' ', 'T');

  async function openInviteDialog(page: Page) {
    await page.getByRole('button', { name: 'Invite jane@acme.com to video call' }).click();
    const dialog = page.getByRole('dialog', { name: 'Invite to video call' });
    await dialog.waitFor();
    // The defaults are filled once the user's time zone is known.
    await expect.poll(() => dialog.getByLabel('Start').inputValue()).not.toBe('');
    return dialog;
  }

  it('invites Jane from her contact page; she joins from the mailed link, Alice answers on video, and the call is logged once on Jane', async () => {
    expect((await janesActivities()).filter((a) => a.subject.includes('video call'))).toEqual([]);
    const alice = await signedInPage(await profile(), server.url, 'alice@example.com', `/contacts/${janeId}`);
    await waitForRegistered(alice);

    const dialog = await openInviteDialog(alice);
    expect(await dialog.getByLabel('Email').inputValue()).toBe('jane@acme.com');
    expect(await dialog.textContent()).toContain('For Jane Doe');
    expect(await dialog.textContent()).toContain('America/Los Angeles');
    // Next half hour, for 30 minutes, in Alice's zone.
    const start = await dialog.getByLabel('Start').inputValue();
    const end = await dialog.getByLabel('End').inputValue();
    expect(start).toMatch(/T\d{2}:(00|30)$/);
    expect(Date.parse(`${end}:00Z`) - Date.parse(`${start}:00Z`)).toBe(30 * MINUTE);
    expect(start > local(Date.now())).toBe(true);
    expect(start <= local(Date.now() + 31 * MINUTE)).toBe(true);
    await dialog.getByLabel('Message (optional)').fill('Let us go through the proposal.');
    await dialog.getByRole('button', { name: 'Send invitation' }).click();

    const shownLink = await dialog.getByLabel('Join link').inputValue();
    expect(shownLink).toMatch(/\/join\/[A-Za-z0-9_-]{44}$/);
    expect(await dialog.getByRole('status').textContent()).toContain('Invitation sent to Jane Doe (jane@acme.com)');
    const invitationHref = await dialog.getByRole('link', { name: 'Open the invitation' }).getAttribute('href');
    expect(invitationHref).toMatch(/^\/invitations\/[0-9a-f-]{36}$/);

    const mail = await smtp.waitForMail((m) => m.to.includes('jane@acme.com'));
    expect(mail.parsed.text).toContain(shownLink);
    expect(mail.parsed.text).toContain('Let us go through the proposal.');
    const link = /https?:\/\/\S+\/join\/[A-Za-z0-9_-]{44}/.exec(mail.parsed.text ?? '')![0];

    await dialog.getByRole('button', { name: 'Close' }).click();
    await dialog.waitFor({ state: 'detached' });
    // The invitation is on Jane's timeline as a meeting (its timeline reloaded by itself after sending).
    await alice.locator('.timeline-item', { hasText: 'Video call with Alice Adams' }).first().waitFor();

    // The meeting's time comes: Alice is back at her desk (a fresh page, registered at that time).
    const invitation = (await api.get(invitationHref!.replace('/invitations', '/api/v1/invitations'))).json() as { starts_at: string };
    shift = Math.max(0, Date.parse(invitation.starts_at) - Date.now());
    await alice.reload();
    await waitForRegistered(alice, 10_000);
    await panelButton(alice, 'Video on').click();

    const guest = await guestPage();
    await guest.goto(link);
    expect(await guest.getByLabel('Your name').inputValue()).toBe('Jane Doe');
    // The camera preview plays, and the pickers name the devices.
    await guest.waitForFunction(() => (document.getElementById('guest-preview') as HTMLVideoElement).videoWidth > 0, undefined, { timeout: 10_000 });
    expect(await guest.getByLabel('Camera').locator('option').count()).toBeGreaterThan(0);
    expect(await guest.getByLabel('Microphone').locator('option').count()).toBeGreaterThan(0);
    expect(await guest.locator('#ringside-softphone').count()).toBe(0); // no softphone, no CRM
    expect(await guest.getByRole('alert').isVisible()).toBe(false);

    await guest.getByRole('button', { name: 'Join call' }).click();
    await panelButton(alice, 'Answer').waitFor({ timeout: 15_000 });
    expect(await panel(alice).textContent()).toContain('Jane Doe');
    await panelButton(alice, 'Answer').click();

    const [atGuest, atAlice] = await Promise.all([waitForMedia(guest, { video: true, timeoutMs: 20_000 }), waitForMedia(alice, { video: true, timeoutMs: 20_000 })]);
    expect(atGuest.framesDecoded).toBeGreaterThan(0);
    expect(atAlice.framesDecoded).toBeGreaterThan(0);
    await expect.poll(() => guest.locator('#guest-status').textContent()).toBe('In the call with Alice Adams');
    expect(await guest.getByRole('region', { name: 'Call' }).getByLabel('Alice Adams').isVisible()).toBe(true);

    // Mute and Video off are toggles.
    const mute = guest.getByRole('button', { name: 'Mute' });
    await mute.click();
    expect(await mute.getAttribute('aria-pressed')).toBe('true');
    await mute.click();
    expect(await mute.getAttribute('aria-pressed')).toBe('false');

    await guest.getByRole('button', { name: 'Hang up' }).click();
    await panel(alice).getByLabel('Number', { exact: true }).waitFor({ timeout: 10_000 });
    await guest.getByRole('button', { name: 'Join call' }).waitFor();
    expect(await guest.getByRole('alert').textContent()).toContain('You left the call');

    const videoCalls = async () => (await janesActivities()).filter((a) => a.kind === 'call' && a.subject.includes('video call'));
    const calls = await waitFor(
      async () => {
        const found = await videoCalls();
        return found.length > 0 ? found : null;
      },
      { timeoutMs: 15_000, what: 'the video call on Jane’s timeline' },
    );
    expect(calls).toHaveLength(1);
    expect(calls[0]!.subject).toBe('Inbound video call from Jane Doe');
    expect(calls[0]!.direction).toBe('inbound');
    expect(calls[0]!.disposition).toBe('answered');
  }, 120_000);

  it('shows a countdown before the window, which turns into Join call when the time comes', async () => {
    const startsAt = Math.floor((Date.now() + HOUR) / MINUTE) * MINUTE;
    const res = await api.request('POST', '/api/v1/invitations', {
      json: { email: 'sam@example.org', guest_name: 'Sam Guest', starts_at: new Date(startsAt).toISOString(), ends_at: new Date(startsAt + 30 * MINUTE).toISOString() },
    });
    expect(res.status).toBe(201);
    const { link, opens_at } = res.json().invitation as { link: string; opens_at: string };

    // A guest in Paris: the page also gives the time in theirs.
    const guest = await guestPage({ timezoneId: 'Europe/Paris' });
    await guest.clock.install();
    await guest.goto(link);
    const parisTime = new Intl.DateTimeFormat('en-US', { timeZone: 'Europe/Paris', hour: 'numeric', minute: '2-digit' }).format(startsAt);
    expect(await guest.locator('.guest-local-time').textContent()).toMatch(new RegExp(`^Your time: \\w+day, \\w+ \\d+, ${parisTime} – `));
    const timer = guest.getByRole('timer');
    // 50 minutes to go (the link opens 10 minutes before the start).
    await expect.poll(() => timer.textContent()).toMatch(/^(49|50):\d{2}$/);
    expect(await guest.getByRole('button', { name: 'Join call' }).count()).toBe(0);
    const before = await timer.textContent();
    await guest.clock.runFor(2000);
    expect(await timer.textContent()).not.toBe(before); // it counts

    // The time comes, for the server and for the guest's computer alike.
    const jump = Date.parse(opens_at) - Date.now() + 1000;
    shift = jump;
    await guest.clock.fastForward(jump);
    await guest.getByRole('button', { name: 'Join call' }).waitFor({ timeout: 10_000 });
    expect(await guest.getByLabel('Your name').inputValue()).toBe('Sam Guest');
  }, 60_000);

  it('tells a guest who blocked the camera and microphone what to do, and still lets them join', async () => {
    const startsAt = Math.floor(Date.now() / MINUTE) * MINUTE;
    const res = await api.request('POST', '/api/v1/invitations', {
      json: { email: 'kim@example.org', guest_name: 'Kim Guest', starts_at: new Date(startsAt).toISOString(), ends_at: new Date(startsAt + 30 * MINUTE).toISOString() },
    });
    expect(res.status).toBe(201);
    // A browser that asks before giving a page the camera (no auto-accepting fake prompt), and
    // nobody grants it: the request is denied, as when the guest says no.
    const asking = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS.filter((a) => a !== '--use-fake-ui-for-media-stream'), headless: true });
    try {
      const guest = await (await asking.newContext()).newPage();
      await guest.goto(res.json().invitation.link);
      const alert = guest.getByRole('alert');
      await alert.waitFor({ timeout: 10_000 });
      expect(await alert.textContent()).toContain('Your browser blocked the camera and microphone for this page');
      expect(await guest.getByRole('button', { name: 'Join call' }).isEnabled()).toBe(true);
    } finally {
      await asking.close();
    }
  }, 60_000);

  it('tells a guest whose invitation ended while the page was open that the call cannot be joined', async () => {
    const startsAt = Math.floor(Date.now() / MINUTE) * MINUTE;
    const res = await api.request('POST', '/api/v1/invitations', {
      json: { email: 'lee@example.org', guest_name: 'Lee Guest', starts_at: new Date(startsAt).toISOString(), ends_at: new Date(startsAt + 30 * MINUTE).toISOString() },
    });
    const guest = await guestPage();
    await guest.goto(res.json().invitation.link);
    const join = guest.getByRole('button', { name: 'Join call' });
    await join.waitFor();
    shift = 31 * MINUTE; // the page stayed open past the end
    await join.click();
    await expect.poll(() => guest.getByRole('alert').textContent(), { timeout: 10_000 }).toContain('Could not connect to the call. The invitation may have ended');
    expect(await join.isEnabled()).toBe(true);
    expect(await guest.getByRole('region', { name: 'Call' }).count()).toBe(0); // still the join form
  }, 60_000);

  it('shows field errors in the dialog and sends nothing: end before start, a bad address, a window in the past', async () => {
    const alice = await signedInPage(await profile(), server.url, 'alice@example.com', `/contacts/${janeId}`);
    const posts: string[] = [];
    alice.on('request', (r) => {
      if (r.method() === 'POST' && r.url().endsWith('/api/v1/invitations')) posts.push(r.url());
    });
    const mailsBefore = smtp.received.length;
    const invitationsBefore = (await api.get('/api/v1/invitations')).json().data.length as number;

    const dialog = await openInviteDialog(alice);
    const start = await dialog.getByLabel('Start').inputValue();
    const earlier = new Date(Date.parse(`${start}:00Z`) - HOUR).toISOString().slice(0, 16);
    await dialog.getByLabel('End').fill(earlier);
    await dialog.getByRole('button', { name: 'Send invitation' }).click();
    const end = dialog.getByLabel('End');
    await expect.poll(() => end.getAttribute('aria-invalid')).toBe('true');
    const errorId = (await end.getAttribute('aria-describedby'))!.split(' ')[0]!;
    expect(await alice.locator(`#${errorId}`).textContent()).toBe('The end must be after the start');
    expect(await dialog.getByLabel('End').evaluate((el) => el === document.activeElement)).toBe(true);

    await dialog.getByLabel('Email').fill('jane@');
    await dialog.getByLabel('End').fill(new Date(Date.parse(`${start}:00Z`) + 30 * MINUTE).toISOString().slice(0, 16));
    await dialog.getByRole('button', { name: 'Send invitation' }).click();
    await expect.poll(() => dialog.getByLabel('Email').getAttribute('aria-invalid')).toBe('true');
    expect(await dialog.textContent()).toContain('This is not a valid email address');
    expect(await end.getAttribute('aria-invalid')).toBeNull(); // fixed, no longer marked
    expect(posts).toHaveLength(0);

    // What only the server knows: yesterday is in the past. Its field error shows by the field.
    await dialog.getByLabel('Email').fill('jane@acme.com');
    await dialog.getByLabel('Start').fill(local(Date.now() - 25 * HOUR));
    await dialog.getByLabel('End').fill(local(Date.now() - 24 * HOUR));
    await dialog.getByRole('button', { name: 'Send invitation' }).click();
    await expect.poll(() => end.getAttribute('aria-invalid')).toBe('true');
    expect(await alice.locator('#invite-ends_at-error').textContent()).toBe('This time is in the past');
    expect(posts).toHaveLength(1);
    expect(await dialog.isVisible()).toBe(true);

    // Nothing was stored or sent.
    expect((await api.get('/api/v1/invitations')).json().data.length).toBe(invitationsBefore);
    expect(smtp.received.length).toBe(mailsBefore);

    // Cancel closes it, and focus goes back to the ✉ button.
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect(await alice.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('Invite jane@acme.com to video call');
  }, 60_000);
});
