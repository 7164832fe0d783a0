import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../test/support/browser.ts';
import { StubCarrier } from '../../test/support/carrier.ts';
import { startServer, type TestServer } from '../../test/support/server.ts';
import { waitFor } from '../../test/support/wait.ts';
import type { CallEvent } from '../appserver/index.ts';
import {
  dial,
  ensureWidgetBuilt,
  panelButton,
  receivedMedia,
  signedInPage,
  tabRole,
  waitForMedia,
  waitForRegistered,
} from '../../test/support/widget.ts';

type CallStarted = Extract<CallEvent, { type: 'call.started' }>;

/** Jane Doe's work number is a DID of Bob's; her mobile goes out through the (busy) carrier. */
const BOBS_DID = '+14155550134';
const ALICES_DID = '+14155550100';

describe('softphone widget in Chromium', () => {
  let server: TestServer;
  let browser: Browser;
  let carrier: StubCarrier;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    ensureWidgetBuilt();
    carrier = await StubCarrier.start();
    [server, browser] = await Promise.all([
      startServer({ env: { TRUNKS: JSON.stringify([{ name: 'carrier', host: '127.0.0.1', port: carrier.port, dids: { [BOBS_DID]: 'bob', [ALICES_DID]: 'alice' } }]) } }),
      launchChromium(),
    ]);
  });
  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    carrier?.close();
  });

  async function profile(): Promise<BrowserContext> {
    const context = await browser.newContext();
    contexts.push(context);
    return context;
  }

  const userId = async (name: string) => (await server.ringside.sip.users.find(name))!.id;
  const bindings = async (name: string) => server.ringside.sip.location.bindings(await userId(name));
  const panel = (page: Page) => page.locator('#ringside-softphone');

  /** The panel is back to the Number field: no call in this tab. */
  const idle = (page: Page) => panel(page).getByLabel('Number', { exact: true }).waitFor({ timeout: 5000 });

  it('serves the phone alone at /phone to signed-in users, and sends others to sign in', async () => {
    const anonymous = await fetch(`${server.url}/phone`, { redirect: 'manual' });
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.get('location')).toBe('/login?next=%2Fphone');
    const page = await signedInPage(await profile(), server.url, 'bob@example.com', '/phone');
    await waitForRegistered(page);
    expect(await page.locator('main #ringside-softphone').count()).toBe(1);
    expect(await page.locator('.shell').count()).toBe(0); // no CRM around it
  });

  it('registers by itself within a second of signing in, and shows it', async () => {
    const page = await (await profile()).newPage();
    await page.goto(`${server.url}/login`);
    await page.getByLabel('Email').fill('alice@example.com');
    await page.getByLabel('Password').fill('ringside-demo');
    const signingIn = Date.now();
    await page.getByRole('button', { name: 'Sign in' }).click();
    await waitForRegistered(page, 1000);
    expect(Date.now() - signingIn).toBeLessThan(1000);
    expect(await panel(page).getByRole('status').textContent()).toBe('Registered');
    await waitFor(async () => (await bindings('alice')).length === 1, { what: 'one registration of alice' });
  });

  it('calls from Alice’s widget to Bob’s: audio and video both ways, and Hang up ends both', async () => {
    const alice = await signedInPage(await profile(), server.url, 'alice@example.com');
    const bob = await signedInPage(await profile(), server.url, 'bob@example.com', '/phone');
    await Promise.all([waitForRegistered(alice), waitForRegistered(bob)]);

    await panelButton(alice, 'Video on').click();
    await dial(alice, 'bob');
    await panelButton(bob, 'Answer').waitFor();
    expect(await panel(bob).locator('.sp-remote').textContent()).toContain('Alice Adams');
    await panelButton(bob, 'Video on').click();
    await panelButton(bob, 'Answer').click();

    const [atAlice, atBob] = await Promise.all([waitForMedia(alice, { video: true }), waitForMedia(bob, { video: true })]);
    expect(atAlice.audioBytes).toBeGreaterThan(0);
    expect(atAlice.framesDecoded).toBeGreaterThan(0);
    expect(atBob.audioBytes).toBeGreaterThan(0);
    expect(atBob.framesDecoded).toBeGreaterThan(0);
    expect(await panel(alice).getByRole('timer').isVisible()).toBe(true);

    await panelButton(alice, 'Hang up').click();
    await Promise.all([idle(alice), idle(bob)]);
    expect(await alice.evaluate(() => (window as unknown as { ringside: { peerConnection(): unknown } }).ringside.peerConnection())).toBeNull();
    expect(await panel(bob).getByRole('alert').count()).toBe(0); // the other side hanging up is no error
  });

  it('keeps one phone per browser: two tabs, one registration, either tab answers, the other takes over', async () => {
    const aliceProfile = await profile();
    const leader = await signedInPage(aliceProfile, server.url, 'alice@example.com');
    await waitForRegistered(leader);
    const follower = await aliceProfile.newPage();
    await follower.goto(`${server.url}/contacts`);
    await waitForRegistered(follower); // mirrored from the leader
    expect(await tabRole(leader)).toBe('leader');
    expect(await tabRole(follower)).toBe('follower');
    const first = await waitFor(async () => {
      const b = await bindings('alice');
      return b.length === 1 ? b[0]! : null;
    }, { what: 'exactly one registration of alice' });

    const bob = await signedInPage(await profile(), server.url, 'bob@example.com', '/phone');
    await waitForRegistered(bob);
    await dial(bob, 'alice');
    await Promise.all([panelButton(leader, 'Answer').waitFor(), panelButton(follower, 'Answer').waitFor()]);
    await panelButton(follower, 'Answer').click();

    await Promise.all([waitForMedia(leader, { video: false }), waitForMedia(bob, { video: false })]);
    expect(await receivedMedia(follower)).toEqual({ audioBytes: 0, videoBytes: 0, framesDecoded: 0 }); // media lives in the leader
    await panelButton(follower, 'Hang up').click();
    await Promise.all([idle(leader), idle(follower), idle(bob)]);

    // Dialling from the follower goes through the leader too.
    await dial(follower, 'bob');
    await panelButton(bob, 'Decline').click();
    await Promise.all([leader, follower].map((tab) => panel(tab).getByRole('alert').filter({ hasText: 'Call declined' }).waitFor()));

    await leader.close();
    await waitFor(async () => (await tabRole(follower)) === 'leader', { what: 'the other tab to take over' });
    await waitForRegistered(follower);
    const second = await waitFor(async () => {
      const b = await bindings('alice');
      return b.length === 1 && b[0]!.id !== first.id ? b[0]! : null;
    }, { what: 'the new leader’s own registration, and only it' });
    expect(second.id).not.toBe(first.id);
  });

  it('dials from a contact’s 📞 buttons, says why a call failed, and keeps a call up across CRM pages', { timeout: 60_000 }, async () => {
    const started: CallStarted[] = [];
    const onStarted = (e: CallStarted) => started.push(e);
    server.ringside.sip.events.on('call.started', onStarted);
    try {
      const alice = await signedInPage(await profile(), server.url, 'alice@example.com');
      const bob = await signedInPage(await profile(), server.url, 'bob@example.com', '/phone');
      await Promise.all([waitForRegistered(alice), waitForRegistered(bob)]);
      await alice.getByLabel('Find contacts').fill('jane');
      await alice.getByRole('button', { name: 'Search' }).click();
      await alice.locator('#main').getByRole('link', { name: 'Jane Doe' }).click();
      await alice.waitForURL(/\/contacts\/[0-9a-f-]{36}$/);
      const janeId = new URL(alice.url()).pathname.split('/').pop()!;
      await alice.evaluate(() => ((window as unknown as { samePage: boolean }).samePage = true));

      // Her mobile goes out through the carrier, which is busy: the panel says so.
      await alice.getByRole('button', { name: 'Call +1 415 555 0101' }).click();
      await panel(alice).getByRole('alert').filter({ hasText: 'User busy' }).waitFor();
      expect(carrier.invites.at(-1)?.uri.toString()).toMatch(/^sip:\+14155550101@/);
      expect(started.at(-1)?.context).toEqual({ type: 'contact', id: janeId });

      // Her work number is Bob's DID: the call rings Bob's widget.
      await alice.getByRole('button', { name: 'Call +1 415 555 0134' }).click();
      await panel(alice).locator('.sp-record').filter({ hasText: 'Jane Doe' }).waitFor();
      await panelButton(bob, 'Answer').click();
      expect(started.at(-1)?.context).toEqual({ type: 'contact', id: janeId });
      let before = await waitForMedia(alice, { video: false });

      // Click around the CRM: Turbo swaps the page, the panel and its call stay.
      await alice.getByRole('link', { name: 'Accounts' }).click();
      await alice.waitForURL(/\/accounts$/);
      await alice.getByRole('link', { name: 'Contacts', exact: true }).click();
      await alice.waitForURL(/\/contacts$/);
      before = await waitForMedia(alice, { video: false, moreThan: before });
      await alice.getByLabel('Find contacts').fill('jane');
      await alice.getByRole('button', { name: 'Search' }).click();
      await alice.locator('#main').getByRole('link', { name: 'Jane Doe' }).click();
      await alice.waitForURL(/\/contacts\/[0-9a-f-]{36}$/);
      // A form too: a note on Jane's record while talking (POST, 303, rendered by Turbo).
      await alice.getByLabel('Note', { exact: true }).fill('Discussed renewal on the phone');
      await alice.getByRole('button', { name: 'Add note' }).click();
      await alice.locator('.timeline-subject', { hasText: 'Discussed renewal on the phone' }).waitFor();
      await alice.goBack();
      await alice.waitForURL(/\/contacts\?q=jane$/);
      // Even a page with no place for the panel (a 404) keeps it, floating, with the call.
      await alice.evaluate(() => (window as unknown as { Turbo: { visit(url: string): void } }).Turbo.visit('/contacts/00000000-0000-4000-8000-000000000000'));
      await alice.getByRole('heading', { name: 'Not found' }).waitFor();
      expect(await alice.locator('body > #ringside-softphone').count()).toBe(1);
      before = await waitForMedia(alice, { video: false, moreThan: before });
      await alice.getByRole('link', { name: 'Back to Ringside' }).click();
      await alice.waitForURL(/\/contacts$/);
      expect(await alice.locator('.shell > #ringside-softphone').count()).toBe(1);

      expect(await alice.evaluate(() => (window as unknown as { samePage?: boolean }).samePage)).toBe(true);
      await waitForMedia(alice, { video: false, moreThan: before });
      expect(await panel(alice).locator('.sp-call-phase').textContent()).toBe('In call');
      await panelButton(bob, 'Hang up').click();
      await Promise.all([idle(alice), idle(bob)]);
    } finally {
      server.ringside.sip.events.off('call.started', onStarted);
    }
  });

  it('shows who is calling from the CRM: a call from Jane Doe’s mobile rings Alice with Jane’s record', async () => {
    const alice = await signedInPage(await profile(), server.url, 'alice@example.com');
    await waitForRegistered(alice);
    const final = carrier.invite(server.ringside.sip.ports.udp!, ALICES_DID, '+14155550101');
    await panelButton(alice, 'Answer').waitFor();
    await panel(alice).getByRole('list', { name: 'CRM records for this number' }).getByRole('link', { name: 'Jane Doe' }).waitFor();
    expect(await panel(alice).locator('.sp-remote-name').textContent()).toBe('Jane Doe');
    await panelButton(alice, 'Decline').click();
    expect((await final).status).toBeGreaterThanOrEqual(400);
    await idle(alice);
  });

  it('keeps CRM forms working under Turbo: errors render in place, pages that answer a POST directly too', async () => {
    const alice = await signedInPage(await profile(), server.url, 'alice@example.com');
    await waitForRegistered(alice);

    // 400 with the form again.
    await alice.goto(`${server.url}/contacts/new`);
    await alice.evaluate(() => ((window as unknown as { samePage: boolean }).samePage = true));
    await alice.getByLabel('First name').fill('Val');
    await alice.getByLabel('Last name').fill('Idation');
    await alice.getByLabel('Email').fill('not an email');
    await alice.getByRole('button', { name: 'Save' }).click();
    await alice.getByRole('alert').filter({ hasText: 'Enter a valid email address' }).waitFor();
    expect(await alice.getByLabel('First name').inputValue()).toBe('Val');

    // A settings form answers 200 with the page (no redirect): rendered all the same.
    await alice.getByRole('link', { name: 'Alice Adams' }).click();
    await alice.waitForURL(/\/settings$/);
    await alice.getByLabel('Your password').fill('ringside-demo');
    await alice.getByRole('button', { name: 'Reset device password' }).click();
    await alice.locator('main [role="status"]').filter({ hasText: 'Your new device password is below' }).waitFor();
    expect(new URL(alice.url()).pathname).toBe('/settings');
    expect(await alice.evaluate(() => (window as unknown as { samePage?: boolean }).samePage)).toBe(true);
    expect(await alice.locator('#ringside-softphone').count()).toBe(1);
  });

  it('signs out every tab’s phone when one tab signs out', async () => {
    const aliceProfile = await profile();
    const leader = await signedInPage(aliceProfile, server.url, 'alice@example.com');
    await waitForRegistered(leader);
    const follower = await aliceProfile.newPage();
    await follower.goto(`${server.url}/phone`);
    await waitForRegistered(follower);
    await waitFor(async () => (await bindings('alice')).length === 1, { what: 'alice registered' });

    await follower.goto(`${server.url}/contacts`); // the Log out button is in the CRM's top bar
    await follower.getByRole('button', { name: 'Log out' }).click();
    await follower.waitForURL(/\/login\?signed_out=1$/);
    await panel(leader).locator('#sp-registration[data-status="offline"]').waitFor();
    expect(await panel(leader).getByRole('status').textContent()).toContain('signed out');
    await waitFor(async () => (await bindings('alice')).length === 0, { what: 'alice’s registration removed' });
  });
});
