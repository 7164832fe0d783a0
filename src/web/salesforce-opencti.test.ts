/**
 * The widget as Salesforce's Open CTI softphone, in Chromium: a stand-in Lightning record page
 * (served by the Salesforce stand-in on another site than Ringside) frames `/salesforce/softphone`
 * in its utility bar and serves the stand-in Open CTI script, which records every call the
 * softphone makes. The softphone signs in through a popup (no cookie reaches the cross-site
 * frame), click-to-dial on the record places the call, the call's Task shows after `refreshView`,
 * and an incoming call pops the caller's record — or a search for an unknown number.
 */
import { rmSync } from 'node:fs';
import type { Browser, BrowserContext, Frame, FrameLocator, Page, WebSocketRoute } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../test/support/browser.ts';
import { StubCarrier } from '../../test/support/carrier.ts';
import { makeAppKeys, SalesforceStandIn, type AppKeys } from '../../test/support/salesforce/index.ts';
import { startServer, type TestServer } from '../../test/support/server.ts';
import { waitFor } from '../../test/support/wait.ts';
import { ensureWidgetBuilt, LOOPBACK_ONLY_ICE } from '../../test/support/widget.ts';
import { salesforceOrigins } from './salesforce.ts';

const INTEGRATION = 'ringside-integration@acme.example';
const CLIENT_ID = '3MVG9-ringside-opencti-consumer-key';
const ALICES_DID = '+14155550100';

interface CtiCall {
  method: string;
  args: Record<string, any>;
}

describe('Ringside as an Open CTI softphone in Salesforce (Chromium)', () => {
  let keys: AppKeys;
  let org: SalesforceStandIn;
  let server: TestServer;
  let browser: Browser;
  let carrier: StubCarrier;
  let jane: string;
  /** Ringside as the browser reaches it: `localhost`, another site than the org's 127.0.0.1. */
  let ringside: string;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    ensureWidgetBuilt();
    keys = makeAppKeys();
    org = await SalesforceStandIn.start({ clientId: CLIENT_ID, certificate: keys.certificatePem, usernames: [INTEGRATION] });
    const acme = org.seed('Account', { Name: 'Acme Corp', Phone: '+1 415 555 0199' }, { indexed: true });
    jane = org.seed('Contact', { FirstName: 'Jane', LastName: 'Doe', AccountId: acme, Phone: '(415) 555-0134' }, { indexed: true });
    org.addUser('alice.sf@acme.example', 'alice@example.com', 'Alice Agent');
    carrier = await StubCarrier.start();
    [server, browser] = await Promise.all([
      startServer({
        env: {
          CRM: 'salesforce',
          SALESFORCE_LOGIN_URL: org.url,
          SALESFORCE_CLIENT_ID: CLIENT_ID,
          SALESFORCE_USERNAME: INTEGRATION,
          SALESFORCE_PRIVATE_KEY_FILE: keys.privateKeyFile,
          SALESFORCE_BATCH_WINDOW_MS: '200',
          TRUNKS: JSON.stringify([{ name: 'carrier', host: '127.0.0.1', port: carrier.port, dids: { [ALICES_DID]: 'alice' } }]),
        },
      }),
      launchChromium(),
    ]);
    ringside = server.url.replace('127.0.0.1', 'localhost');
    await waitFor(async () => ((await (await fetch(`${server.url}/readyz`)).json()) as { checks?: { salesforce_sync?: { state?: string } } }).checks?.salesforce_sync?.state === 'ready', {
      timeoutMs: 20_000,
      what: 'the initial sync',
    });
  });
  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    carrier?.close();
    await org?.close();
    if (keys) rmSync(keys.dir, { recursive: true, force: true });
  });

  /** Jane's record page in the org, with Ringside's softphone in the utility bar. */
  async function lightning(): Promise<{ page: Page; phone: FrameLocator; frame: () => Frame }> {
    const context = await browser.newContext();
    contexts.push(context);
    await context.addInitScript(LOOPBACK_ONLY_ICE);
    const page = await context.newPage();
    await page.goto(`${org.url}/lightning/r/Contact/${jane}/view?softphone=${encodeURIComponent(`${ringside}/salesforce/softphone`)}`);
    await page.locator('#record-name').filter({ hasText: 'Jane Doe' }).waitFor();
    const frame = () => page.frames().find((f) => f.url().startsWith(`${ringside}/salesforce/softphone`))!;
    return { page, phone: page.frameLocator('#softphone'), frame };
  }

  const ctiCalls = (page: Page) => page.evaluate(() => (window as unknown as { __opencti: { calls: CtiCall[] } }).__opencti.calls);
  const methods = async (page: Page) => (await ctiCalls(page)).map((c) => c.method);

  /** Signs the framed softphone in through the popup, as Alice. */
  async function signIn(page: Page, phone: FrameLocator): Promise<void> {
    const popupOpened = page.context().waitForEvent('page');
    await phone.getByRole('button', { name: 'Sign in to Ringside' }).click();
    const popup = await popupOpened;
    await popup.waitForURL((u) => u.pathname === '/login');
    await popup.getByLabel('Email').fill('alice@example.com');
    await popup.getByLabel('Password').fill('ringside-demo');
    await popup.getByRole('button', { name: 'Sign in' }).click();
    await popup.waitForEvent('close', { timeout: 10_000 });
    await phone.locator('#sp-registration[data-status="registered"]').waitFor({ timeout: 10_000 });
  }

  it('signs in through a popup without cross-site cookies, then dials from the record with click-to-dial, and shows the logged Task', async () => {
    const { page, phone, frame } = await lightning();
    // Open CTI loaded from the org, the panel asks to sign in (no Ringside cookie in a cross-site frame).
    await phone.getByRole('button', { name: 'Sign in to Ringside' }).waitFor();
    await waitFor(() => frame().evaluate(() => (window as unknown as { ringside: { cti(): boolean } }).ringside.cti()), { what: 'Open CTI in the frame' });
    expect(await page.locator('a.click-to-dial').count()).toBe(0);

    await signIn(page, phone);
    // The frame has no cookie (a plain request is not signed in): the widget's own requests carry
    // the session the popup handed it — its recent calls load — and the SIP WebSocket a token.
    expect(await frame().evaluate(async () => (await fetch('/api/v1/session', { credentials: 'include' })).status)).toBe(401);
    await phone.getByText('No calls yet.').waitFor({ timeout: 10_000 });
    // Web Locks are refused in this third-party frame: the phone runs as the frame's only tab.
    expect(await frame().evaluate(() => navigator.locks.query().then(() => 'granted', (e: Error) => e.name))).toBe('SecurityError');
    expect(await frame().evaluate(() => document.querySelector('.sp')?.getAttribute('data-role'))).toBe('leader');
    expect((await page.context().cookies(ringside)).map((c) => c.name)).toContain('rs_session'); // the popup's, first-party

    // Click-to-dial is on: the phone number is a link now.
    await page.locator('a.click-to-dial', { hasText: '(415) 555-0134' }).waitFor();
    expect(await methods(page)).toEqual(expect.arrayContaining(['enableClickToDial', 'onClickToDial']));
    await page.locator('a.click-to-dial', { hasText: '(415) 555-0134' }).click();
    // The call goes out (through the carrier, which is busy) from the softphone, about Jane.
    await waitFor(() => carrier.invites.find((i) => i.uri.toString().startsWith('sip:+14155550134@')), { timeoutMs: 10_000, what: 'the INVITE at the carrier' });
    const calls = await ctiCalls(page);
    expect(calls.find((c) => c.method === 'setSoftphonePanelVisibility')?.args).toEqual({ visible: true });
    await phone.getByRole('alert').filter({ hasText: /busy/i }).waitFor({ timeout: 10_000 });

    // The Task Ringside logged shows on the record once the softphone refreshes the view.
    const task = await waitFor(() => org.list('Task')[0], { timeoutMs: 10_000, what: 'the Task' });
    expect(task).toMatchObject({ WhoId: jane, CallType: 'Outbound', CallDisposition: 'Busy', TaskSubtype: 'Call', OwnerId: org.userId('alice.sf@acme.example') });
    await page.locator('#activity .task', { hasText: 'Busy outbound call to Jane Doe' }).waitFor({ timeout: 20_000 });
    expect(await methods(page)).toContain('refreshView');
    expect((await ctiCalls(page)).some((c) => c.method === 'setSoftphonePanelHeight' && c.args.heightPX >= 240)).toBe(true);
  });

  it('reconnects a dropped SIP WebSocket with a fresh token, and stays registered', async () => {
    const { page, phone } = await lightning();
    const sockets: { url: URL; route: WebSocketRoute }[] = [];
    await page.context().routeWebSocket(
      (url) => url.pathname === '/sip',
      (route) => {
        sockets.push({ url: new URL(route.url()), route });
        route.connectToServer();
      },
    );
    await signIn(page, phone);
    expect(sockets).toHaveLength(1);
    expect(sockets[0]!.url.searchParams.get('token')).toBeTruthy();

    // The network drops the connection: the phone says so, then connects again by itself.
    await sockets[0]!.route.close({ code: 1006 });
    await phone.locator('#sp-registration[data-status="offline"]').waitFor({ timeout: 10_000 });
    await phone.locator('#sp-registration[data-status="registered"]').waitFor({ timeout: 20_000 });
    expect(sockets).toHaveLength(2);
    // With a token of its own, not the first one (which lives only a minute).
    expect(sockets[1]!.url.searchParams.get('token')).toBeTruthy();
    expect(sockets[1]!.url.searchParams.get('token')).not.toBe(sockets[0]!.url.searchParams.get('token'));
    // And it still takes calls.
    const known = carrier.invite(server.ringside.sip.ports.udp!, ALICES_DID, '+14155550134');
    await phone.getByRole('button', { name: 'Decline' }).click({ timeout: 10_000 });
    expect((await known).status).toBeGreaterThanOrEqual(400);
  });

  it('pops the caller’s record for an incoming call, and a search for an unknown number', async () => {
    const { page, phone } = await lightning();
    await signIn(page, phone);
    // Somewhere else in Salesforce meanwhile: the pop brings Jane's record up.
    await page.evaluate(() => {
      document.getElementById('record')!.innerHTML = '<h1 id="record-name">Home</h1>';
    });
    const known = carrier.invite(server.ringside.sip.ports.udp!, ALICES_DID, '+14155550134');
    await phone.getByRole('button', { name: 'Answer' }).waitFor({ timeout: 10_000 });
    await page.locator('#record-name').filter({ hasText: 'Jane Doe' }).waitFor({ timeout: 10_000 });
    const pop = (await ctiCalls(page)).find((c) => c.method === 'screenPop')!;
    expect(pop.args).toEqual({ type: 'sobject', params: { recordId: jane } });
    await phone.getByRole('button', { name: 'Decline' }).click();
    expect((await known).status).toBeGreaterThanOrEqual(400);
    await phone.getByLabel('Number', { exact: true }).waitFor();

    // A number Salesforce does not know: a search page for it.
    const unknown = carrier.invite(server.ringside.sip.ports.udp!, ALICES_DID, '+13125550142');
    await phone.getByRole('button', { name: 'Answer' }).waitFor({ timeout: 10_000 });
    await page.locator('#search-title', { hasText: '+13125550142' }).waitFor({ timeout: 10_000 });
    const search = (await ctiCalls(page)).find((c) => c.method === 'searchAndScreenPop')!;
    expect(search.args).toMatchObject({ searchParams: '+13125550142', callType: 'inbound', deferred: false });
    await phone.getByRole('button', { name: 'Decline' }).click();
    expect((await unknown).status).toBeGreaterThanOrEqual(400);
    // Both calls are logged, once each; the view is refreshed after each.
    await waitFor(() => org.list('Task').filter((t) => t.CallType === 'Inbound').length === 2 || undefined, { timeoutMs: 10_000, what: 'two inbound Tasks' });
    await waitFor(async () => (await methods(page)).filter((m) => m === 'refreshView').length >= 2 || undefined, { what: 'refreshView after the calls' });
  });

  it('lets only the connected org frame the softphone and serve it scripts, no other Salesforce customer', async () => {
    const csp = async (origin: string) => {
      const res = await fetch(`${server.url}/salesforce/softphone?sfdcIframeOrigin=${encodeURIComponent(origin)}`);
      return { csp: res.headers.get('content-security-policy')!, xfo: res.headers.get('x-frame-options'), html: await res.text() };
    };
    const ours = await csp(org.url);
    expect(ours.csp).toContain(`script-src 'self' ${org.url};`);
    expect(ours.csp).toMatch(new RegExp(`frame-ancestors 'self' ${org.url.replace(/[.]/g, '\\.')}$`));
    expect(ours.xfo).toBeNull();
    expect(ours.html).toContain(`<meta name="ringside-sf-origin" content="${org.url}">`);
    // Anyone can host pages on force.com: another org's Lightning domain is not ours.
    const other = await csp('https://evil.lightning.force.com');
    expect(other.html).toContain('<meta name="ringside-sf-origin" content="">');
    expect(other.csp).not.toMatch(/force\.com|\*/);
    // The CRM pages still refuse to be framed by other sites.
    const login = await fetch(`${server.url}/login`);
    expect(login.headers.get('content-security-policy')).toMatch(/frame-ancestors 'self'$/);
    expect(login.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    // A forged sign-in token is refused.
    expect((await fetch(`${server.url}/salesforce/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: 'eyJ1IjoieCJ9.forged' }) })).status).toBe(401);
    // A real org's domains: its My Domain and the Lightning and setup twins, sandboxes too.
    expect(salesforceOrigins('https://acme.my.salesforce.com', 'https://login.salesforce.com')).toEqual([
      'https://acme.my.salesforce.com',
      'https://acme.lightning.force.com',
      'https://acme.my.salesforce-setup.com',
    ]);
    expect(salesforceOrigins('https://acme--uat.sandbox.my.salesforce.com', 'https://test.salesforce.com')).toEqual([
      'https://acme--uat.sandbox.my.salesforce.com',
      'https://acme--uat.sandbox.lightning.force.com',
      'https://acme--uat.sandbox.my.salesforce-setup.com',
    ]);
    expect(salesforceOrigins(null, 'https://login.salesforce.com')).toEqual([]);
  });
});
