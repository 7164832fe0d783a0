/**
 * The CRM call flows as a salesperson meets them in the widget (real Chromium, the built-in test
 * caller on the trunk side): the screen pop while it rings, Open record, Add contact, the picker
 * for a shared number, click-to-dial from a contact page, a tab closed mid-call, and the recent
 * calls with Call back. Server-level flows (busy, no answer, desk phone, crash, CRM outage) are in
 * src/calls/call-flows.test.ts.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../test/support/browser.ts';
import { StubCarrier } from '../../test/support/carrier.ts';
import { HttpClient, startServer, type TestServer } from '../../test/support/server.ts';
import { waitFor } from '../../test/support/wait.ts';
import { ensureWidgetBuilt, panelButton, signedInPage, waitForRegistered } from '../../test/support/widget.ts';

/** Jane Doe's work number is a DID of Bob's (click-to-dial rings Bob's widget); other numbers go to the busy carrier. */
const JANE_WORK = '+14155550134';
const SHARED = '+13035550199';
const RING_TIMEOUT_S = 10;

interface Activity {
  kind: string;
  subject: string;
  direction: string;
  disposition: string;
  duration_s: number;
  body: string | null;
  details: Record<string, unknown>;
}

describe('CRM call flows in the widget', () => {
  let server: TestServer;
  let browser: Browser;
  let carrier: StubCarrier;
  let api: HttpClient;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    ensureWidgetBuilt();
    carrier = await StubCarrier.start();
    [server, browser] = await Promise.all([
      startServer({
        env: {
          SIP_RING_TIMEOUT_S: String(RING_TIMEOUT_S),
          TRUNKS: JSON.stringify([{ name: 'carrier', host: '127.0.0.1', port: carrier.port, dids: { [JANE_WORK]: 'bob' } }]),
        },
      }),
      launchChromium(),
    ]);
    api = new HttpClient(server.url);
    expect((await api.login('alice@example.com')).status).toBe(200);
  });
  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    carrier?.close();
  });

  async function signedIn(email: string, path = '/contacts'): Promise<Page> {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await signedInPage(context, server.url, email, path);
    await waitForRegistered(page);
    return page;
  }

  const panel = (page: Page) => page.locator('#ringside-softphone');
  const idle = (page: Page) => panel(page).getByLabel('Number', { exact: true }).waitFor({ timeout: 15_000 });

  async function contactsByQuery(q: string) {
    return (await api.get(`/api/v1/contacts?q=${encodeURIComponent(q)}`)).json().data as { id: string; name: string }[];
  }

  async function callActivities(type: string, id: string): Promise<Activity[]> {
    const page = (await api.get(`/api/v1/activities?record_type=${type}&record_id=${id}&limit=200`)).json() as { data: Activity[] };
    return page.data.filter((a) => a.kind === 'call' && !a.details?.demo);
  }

  /** Resolves with the activity once the record has `count` real call activities. */
  function nthActivity(type: string, id: string, count: number, timeoutMs = 5000): Promise<Activity> {
    return waitFor(async () => {
      const all = await callActivities(type, id);
      return all.length === count ? all[0] : undefined;
    }, { timeoutMs, what: `${count} call activities on ${type} ${id}` });
  }

  it('1: shows a known caller’s record while it rings, and Open record goes to that contact', async () => {
    const alice = await signedIn('alice@example.com');
    const jane = (await contactsByQuery('jane@acme.com'))[0]!;
    const call = server.ringside.sip.testCall({ to: 'alice', from: JANE_WORK, durationS: 1 });
    await panelButton(alice, 'Answer').waitFor();
    const card = panel(alice).locator('.sp-call');
    await card.locator('.sp-remote-name', { hasText: 'Jane Doe' }).waitFor({ timeout: 3000 });
    // Still ringing: the name came within the ring, with who she is and what happened last.
    expect(await panelButton(alice, 'Answer').isVisible()).toBe(true);
    const record = panel(alice).getByRole('list', { name: 'CRM records for this number' });
    expect(await record.textContent()).toContain('VP Sales · Acme Corp');
    expect(await record.locator('.sp-crm-last').textContent()).toMatch(/^Last activity: .+/);
    expect(await panel(alice).locator('.sp-remote-number').textContent()).toBe('+1 415 555 0134');

    await panel(alice).getByRole('link', { name: 'Open record' }).click();
    await alice.waitForURL((url) => url.pathname === `/contacts/${jane.id}`);
    await alice.getByRole('heading', { name: 'Jane Doe' }).first().waitFor();
    // The call is still there, ringing beside her record.
    await panelButton(alice, 'Decline').click();
    await call;
    await idle(alice);
  });

  it('2: Add contact for an unknown caller makes one contact, however often Save is clicked; the next call matches', async () => {
    const number = '+13125550842';
    const alice = await signedIn('alice@example.com');
    const first = server.ringside.sip.testCall({ to: 'alice', from: number, durationS: 30 });
    await panelButton(alice, 'Answer').waitFor();
    await panel(alice).locator('.sp-remote-number', { hasText: '+1 312 555 0842' }).waitFor(); // formatted for people
    await panelButton(alice, 'Answer').click();
    await panel(alice).getByRole('timer').waitFor();

    await panelButton(alice, 'Add contact').click();
    const form = panel(alice).getByRole('form', { name: 'Add contact' });
    expect(await form.textContent()).toContain('+1 312 555 0842'); // prefilled with the number
    await form.getByLabel('First name').fill('Nadia');
    await form.getByLabel('Last name').fill('Newcomb');
    await form.getByLabel('Account (optional)').fill('Globex');
    await form.locator('datalist option[value="Globex"]').waitFor({ state: 'attached' });
    await form.getByRole('button', { name: 'Save' }).dblclick();
    await panel(alice).locator('.sp-remote-name', { hasText: 'Nadia Newcomb' }).waitFor();
    await panel(alice).getByRole('link', { name: 'Open record' }).waitFor();

    const found = await contactsByQuery(number);
    expect(found.map((c) => c.name)).toEqual(['Nadia Newcomb']);
    const contact = (await api.get(`/api/v1/contacts/${found[0]!.id}`)).json() as { account_name: string | null };
    expect(contact.account_name).toBe('Globex');

    await panelButton(alice, 'Hang up').click();
    await first;
    await idle(alice);
    expect((await nthActivity('contact', found[0]!.id, 1)).disposition).toBe('answered');

    // The next call from that number pops the new contact at once.
    const second = server.ringside.sip.testCall({ to: 'alice', from: number, durationS: 1 });
    await panelButton(alice, 'Answer').waitFor();
    await panel(alice).locator('.sp-remote-name', { hasText: 'Nadia Newcomb' }).waitFor({ timeout: 3000 });
    await panelButton(alice, 'Decline').click();
    await second;
    expect(await contactsByQuery(number)).toHaveLength(1);
  });

  it('3: a shared number offers a picker; the chosen record gets the activity and the notes', async () => {
    const alice = await signedIn('alice@example.com');
    const sharers = await contactsByQuery(SHARED);
    expect(sharers).toHaveLength(2);
    const before = await Promise.all(sharers.map(async (c) => (await callActivities('contact', c.id)).length));

    const call = server.ringside.sip.testCall({ to: 'alice', from: SHARED, durationS: 30 });
    await panelButton(alice, 'Answer').waitFor();
    const picker = panel(alice).getByRole('radiogroup', { name: 'Which record is this call about?' });
    await picker.waitFor();
    expect(await picker.getByRole('radio').count()).toBe(2);
    // Not decided for the person: neither name is shown as the caller until someone is picked.
    expect(await panel(alice).locator('.sp-remote-number').textContent()).toBe('+1 303 555 0199');
    expect(sharers.map((c) => c.name)).not.toContain(await panel(alice).locator('.sp-remote-name').textContent());
    await panelButton(alice, 'Answer').click();
    await panel(alice).getByRole('timer').waitFor();

    const chosen = sharers[1]!;
    await picker.getByRole('radio', { name: chosen.name }).check();
    await panel(alice).locator('.sp-remote-name', { hasText: chosen.name }).waitFor();
    await panel(alice).getByLabel('Wrap-up notes').fill('Wants a quote for 40 seats');
    await panel(alice).locator('.sp-notes-state', { hasText: 'Saved' }).waitFor();
    await panelButton(alice, 'Hang up').click();
    await call;

    // After the call: the wrap-up card keeps the notes editable.
    const wrapUp = panel(alice).getByRole('region', { name: `Wrap-up of the call with ${chosen.name}` });
    await wrapUp.waitFor();
    expect(await wrapUp.getByLabel('Wrap-up notes').inputValue()).toBe('Wants a quote for 40 seats');
    const logged = await nthActivity('contact', chosen.id, before[1]! + 1);
    expect(logged).toMatchObject({ direction: 'inbound', disposition: 'answered', body: 'Wants a quote for 40 seats' });
    expect(await callActivities('contact', sharers[0]!.id)).toHaveLength(before[0]!);

    await wrapUp.getByLabel('Wrap-up notes').fill('Wants a quote for 40 seats; send it Friday');
    await wrapUp.locator('.sp-notes-state', { hasText: 'Saved' }).waitFor();
    await waitFor(async () => (await callActivities('contact', chosen.id))[0]?.body === 'Wants a quote for 40 seats; send it Friday', { what: 'the edited notes on the activity' });
    await wrapUp.getByRole('button', { name: 'Done' }).click();
    await wrapUp.waitFor({ state: 'detached' });

    // The record's own page shows the call on its timeline.
    await alice.goto(`${server.url}/contacts/${chosen.id}`);
    await alice.locator('.timeline-subject', { hasText: 'Inbound call' }).first().waitFor();
  });

  it('4: click-to-dial from a contact page logs an outbound call on that contact, with its real duration', { timeout: 60_000 }, async () => {
    const [alice, bob] = await Promise.all([signedIn('alice@example.com'), signedIn('bob@example.com', '/phone')]);
    const jane = (await contactsByQuery('jane@acme.com'))[0]!;
    const before = (await callActivities('contact', jane.id)).length;
    await alice.goto(`${server.url}/contacts/${jane.id}`);
    await waitForRegistered(alice, 10_000);

    const contexts: unknown[] = [];
    const onStarted = (e: { type: string; context: unknown }) => contexts.push(e.context);
    server.ringside.sip.events.on('call.started', onStarted);
    await alice.getByRole('button', { name: 'Call +1 415 555 0134' }).click();
    // The outbound card: the dialled number's record.
    await panel(alice).locator('.sp-remote-name', { hasText: 'Jane Doe' }).waitFor();
    await panel(alice).getByRole('link', { name: 'Open record' }).waitFor();
    await panelButton(bob, 'Answer').click();
    await panel(alice).getByRole('timer').waitFor();
    const answeredAt = Date.now();
    await panel(alice).locator('.sp-call-phase', { hasText: 'In call' }).waitFor();
    await alice.waitForFunction(() => document.querySelector('#ringside-softphone .sp-timer')?.textContent === '0:02', undefined, { timeout: 10_000 });
    await panelButton(alice, 'Hang up').click();
    const realS = (Date.now() - answeredAt) / 1000;
    await Promise.all([idle(alice), idle(bob)]);
    server.ringside.sip.events.off('call.started', onStarted);
    expect(contexts).toEqual([{ type: 'contact', id: jane.id }]); // the widget named the record (X-Ringside-Record)

    const logged = await nthActivity('contact', jane.id, before + 1);
    expect(logged).toMatchObject({ direction: 'outbound', disposition: 'answered' });
    expect(Math.abs(logged.duration_s - realS)).toBeLessThanOrEqual(1);
    // The browser's getStats figures, posted as it hung up, are on the activity.
    expect(logged.details.quality).toMatchObject({ jitterMs: expect.any(Number), lossPct: expect.any(Number), mos: expect.any(Number) });
  });

  it('8: a widget tab closed during the call still gets its activity', async () => {
    const alice = await signedIn('alice@example.com');
    const jane = (await contactsByQuery('jane@acme.com'))[0]!;
    const before = (await callActivities('contact', jane.id)).length;
    const call = server.ringside.sip.testCall({ to: 'alice', from: JANE_WORK, durationS: 60 });
    await panelButton(alice, 'Answer').click();
    await panel(alice).getByRole('timer').waitFor();
    await alice.close({ runBeforeUnload: false });
    // The server notices the closed connection and ends the call long before the caller would.
    const logged = await nthActivity('contact', jane.id, before + 1, 10_000);
    expect(logged).toMatchObject({ direction: 'inbound', disposition: 'answered' });
    expect(logged.duration_s).toBeLessThan(30);
    await call;
  });

  it('shows a declined call as declined (with Call back, not in red), and its notes written from Recent calls reach the contact’s activity', { timeout: 60_000 }, async () => {
    const alice = await signedIn('alice@example.com');
    const jane = (await contactsByQuery('jane@acme.com'))[0]!;
    const before = (await callActivities('contact', jane.id)).length;
    const call = server.ringside.sip.testCall({ to: 'alice', from: JANE_WORK, durationS: 30 });
    await panel(alice).locator('.sp-remote-name', { hasText: 'Jane Doe' }).waitFor({ timeout: 10_000 });
    await panelButton(alice, 'Decline').click();
    await call;
    await idle(alice);
    expect((await nthActivity('contact', jane.id, before + 1)).disposition).toBe('declined');

    // The newest row: Jane, declined — said so, with Call back, and not shown as missed.
    const row = panel(alice).locator('.sp-recent-list > li:first-child[data-disposition="declined"]');
    await row.waitFor({ timeout: 10_000 });
    expect(await row.locator('.sp-recent-name').textContent()).toBe('Jane Doe');
    const text = await row.textContent();
    expect(text).toContain('Declined');
    expect(text).not.toContain('Missed');
    expect(await row.evaluate((li) => li.classList.contains('sp-missed'))).toBe(false);
    expect(await row.locator('.sp-recent-name').evaluate((el) => getComputedStyle(el).color)).not.toBe('rgb(198, 40, 40)'); // --danger, the missed calls' red
    await row.getByRole('button', { name: 'Call back' }).waitFor();
    const recent = (await api.get('/api/v1/calls/recent?limit=1')).json() as { data: { disposition: string; missed: boolean; notes: string | null }[] };
    expect(recent.data[0]).toMatchObject({ disposition: 'declined', missed: false, notes: null });

    // Notes for the declined call, written from Recent calls, land on Jane's activity.
    await row.getByRole('button', { name: 'Notes on the call with Jane Doe' }).click();
    await row.getByLabel('Wrap-up notes').fill('Was in a meeting: call back after 3 pm');
    await row.locator('.sp-notes-state', { hasText: 'Saved' }).waitFor();
    await waitFor(async () => (await callActivities('contact', jane.id))[0]?.body === 'Was in a meeting: call back after 3 pm' || undefined, { timeoutMs: 10_000, what: 'the notes on the activity' });
    await row.getByRole('button', { name: 'Close' }).click();
    expect(await row.locator('.sp-recent-notes-line').textContent()).toBe('Was in a meeting: call back after 3 pm');

    // After a reload they come from the server, and editing them again updates the activity.
    await alice.reload();
    await waitForRegistered(alice);
    const again = panel(alice).locator('.sp-recent-list > li:first-child');
    await again.locator('.sp-recent-notes-line', { hasText: 'Was in a meeting: call back after 3 pm' }).waitFor({ timeout: 10_000 });
    await again.getByRole('button', { name: 'Notes on the call with Jane Doe' }).click();
    const notes = again.getByLabel('Wrap-up notes');
    expect(await notes.inputValue()).toBe('Was in a meeting: call back after 3 pm');
    await notes.fill('Was in a meeting: called back, demo booked for Tuesday');
    await notes.blur();
    await again.locator('.sp-notes-state', { hasText: 'Saved' }).waitFor();
    await waitFor(async () => (await callActivities('contact', jane.id))[0]?.body === 'Was in a meeting: called back, demo booked for Tuesday' || undefined, { timeoutMs: 10_000, what: 'the edited notes on the activity' });
    expect((await callActivities('contact', jane.id)).length).toBe(before + 1);
  });

  it('says there are no CRM details when the screen pop never comes, instead of looking up forever', async () => {
    // The network loses the server's screen pop (its SIP MESSAGE) on the way to this browser.
    const context = await browser.newContext();
    contexts.push(context);
    const lost: string[] = [];
    await context.routeWebSocket(
      (url) => url.pathname === '/sip',
      (ws) => {
        const toServer = ws.connectToServer();
        ws.onMessage((m) => toServer.send(m));
        toServer.onMessage((m) => {
          const text = typeof m === 'string' ? m : m.toString('utf8');
          if (text.startsWith('MESSAGE ') && text.includes('"screen-pop"')) lost.push(text);
          else ws.send(m);
        });
      },
    );
    const alice = await signedInPage(context, server.url, 'alice@example.com', '/contacts');
    await waitForRegistered(alice);
    const call = server.ringside.sip.testCall({ to: 'alice', from: JANE_WORK, durationS: 30 });
    await panelButton(alice, 'Answer').waitFor();
    await panel(alice).locator('.sp-crm-pending', { hasText: 'Looking up the CRM…' }).waitFor();
    // Still ringing, a few seconds on: the number, and no more spinner.
    await panel(alice).locator('.sp-crm-unknown', { hasText: 'No CRM details for this number' }).waitFor({ timeout: 6000 });
    expect(await panel(alice).locator('.sp-crm-pending').count()).toBe(0);
    expect(await panelButton(alice, 'Answer').isVisible()).toBe(true);
    expect(await panel(alice).locator('.sp-remote-number').textContent()).toBe('+14155550134');
    expect(lost).toHaveLength(1);
    await panelButton(alice, 'Decline').click();
    await call;
    await idle(alice);
  });

  it('lists a missed call in Recent calls, and Call back dials it', { timeout: 60_000 }, async () => {
    const number = '+16175550161';
    const alice = await signedIn('alice@example.com');
    const call = server.ringside.sip.testCall({ to: 'alice', from: number, durationS: 1 });
    await panelButton(alice, 'Answer').waitFor();
    await call; // nobody answers: the ring times out
    await panel(alice).locator('.sp-notice', { hasText: 'Missed call' }).waitFor();
    const row = panel(alice).getByRole('list', { name: 'Recent calls' }).getByRole('listitem').filter({ hasText: '+1 617 555 0161' }).first();
    await row.waitFor({ timeout: 5000 });
    expect(await row.textContent()).toContain('Missed');

    const invites = carrier.invites.length;
    await row.getByRole('button', { name: 'Call back' }).click();
    await waitFor(() => carrier.invites.length > invites, { what: 'the call back reaching the carrier' });
    expect(carrier.invites.at(-1)!.uri.toString()).toMatch(/^sip:\+16175550161@/);
    await panel(alice).getByRole('alert').filter({ hasText: 'User busy' }).waitFor(); // the stub carrier is busy
  });
});
