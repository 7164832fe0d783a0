/**
 * The widget with real SIP phones, through the media relay: Chromium's WebRTC (ICE, DTLS-SRTP,
 * rtcp-mux) on one side, Debian's baresip speaking plain RTP/AVP on the other. Also the relay-only
 * path a locked-down network forces: browsers that may use TURN candidates only, through coturn.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Baresip } from '../../test/support/baresip.ts';
import { launchChromium } from '../../test/support/browser.ts';
import { Coturn } from '../../test/support/coturn.ts';
import { startServer, type TestServer } from '../../test/support/server.ts';
import { dial, ensureWidgetBuilt, panelButton, signedInPage, waitForMedia, waitForRegistered } from '../../test/support/widget.ts';

const ALICES_DID = '+14155550100';
const CALLER = '+12125550199';

const panel = (page: Page) => page.locator('#ringside-softphone');
/** The panel is back to the Number field: no call in this tab. */
const idle = (page: Page) => panel(page).getByLabel('Number', { exact: true }).waitFor({ timeout: 10_000 });

describe('widget and SIP phones through the media relay', () => {
  let server: TestServer;
  let browser: Browser;
  let carrier: Baresip;
  let domain: string;
  const contexts: BrowserContext[] = [];
  const phones: Baresip[] = [];

  beforeAll(async () => {
    ensureWidgetBuilt();
    // The carrier exists first: the trunk is configured with its address and port.
    carrier = await Baresip.start({ name: 'carrier', account: { user: CALLER, answer: 'manual', displayName: 'Trunk caller' }, register: false });
    [server, browser] = await Promise.all([
      startServer({ env: { SIP_RING_TIMEOUT_S: '20', TRUNKS: JSON.stringify([{ name: 'carrier', host: '127.0.0.1', port: carrier.sipPort, dids: { [ALICES_DID]: 'alice' } }]) } }),
      launchChromium(),
    ]);
    domain = `127.0.0.1:${server.ringside.sip.ports.udp}`;
  }, 60_000);
  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((c) => c.close()));
    await Promise.all(phones.splice(0).map((p) => p.stop()));
  });
  afterAll(async () => {
    await browser?.close();
    await carrier?.stop();
    await server?.stop();
  });

  async function aliceWidget(): Promise<Page> {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await signedInPage(context, server.url, 'alice@example.com', '/phone');
    await waitForRegistered(page);
    return page;
  }

  async function phone(name: string, user: string, options: { answer?: 'auto' | 'manual'; audioCodec?: 'PCMU' | 'GSM' } = {}): Promise<Baresip> {
    const p = await Baresip.start({ name, account: { user, password: 'ringside-demo', domain, answer: options.answer ?? 'auto' }, ...(options.audioCodec ? { audioCodec: options.audioCodec } : {}) });
    phones.push(p);
    return p;
  }

  it('calls a baresip desk phone from the widget: RTP both ways through the relay, hang up from either side', async () => {
    const alice = await aliceWidget();
    const bobsDesk = await phone('bob-desk', 'bob');

    // Hang up from the widget.
    await dial(alice, 'bob');
    await bobsDesk.waitForEvent('CALL_ESTABLISHED', 10_000);
    const [inBrowser, atPhone] = await Promise.all([waitForMedia(alice, { video: false }), bobsDesk.waitForRtp(25, 10_000)]);
    expect(inBrowser.audioBytes).toBeGreaterThan(0);
    expect(atPhone.rxPackets).toBeGreaterThanOrEqual(25);
    // The phone got plain RTP/AVP with PCMU from the relay, never the browser's DTLS or ICE.
    const offer = bobsDesk.sipMessages().find((m) => m.direction === 'received' && m.startLine.startsWith('INVITE'));
    expect(offer?.text).toMatch(/m=audio \d+ RTP\/AVP /);
    expect(offer?.text).not.toMatch(/fingerprint|ice-ufrag/);
    await panelButton(alice, 'Hang up').click();
    await Promise.all([bobsDesk.waitForEvent('CALL_CLOSED'), idle(alice)]);

    // Hang up from the phone.
    await dial(alice, 'bob');
    await bobsDesk.waitForEvent('CALL_ESTABLISHED', 10_000);
    await waitForMedia(alice, { video: false });
    await bobsDesk.hangup();
    await idle(alice);
    expect(await panel(alice).getByRole('alert').count()).toBe(0); // the other side hanging up is no error
  });

  it('rings the widget and the desk phone for a trunk call; answered in the widget, the desk phone gets CANCEL with the Reason, and audio flows', async () => {
    const alice = await aliceWidget();
    const desk = await phone('alice-desk', 'alice', { answer: 'manual' });

    await carrier.dial(`sip:${ALICES_DID}@${domain}`);
    await Promise.all([desk.waitForEvent('CALL_INCOMING', 10_000), panelButton(alice, 'Answer').waitFor({ timeout: 10_000 })]);
    await panelButton(alice, 'Answer').click();
    await Promise.all([carrier.waitForEvent('CALL_ESTABLISHED', 10_000), desk.waitForEvent('CALL_CLOSED', 10_000)]);
    const cancel = desk.sipMessages().find((m) => m.direction === 'received' && m.startLine.startsWith('CANCEL'));
    expect(cancel?.text).toMatch(/Reason: SIP;cause=200;text="Call completed elsewhere"/);

    const [inBrowser, atCarrier] = await Promise.all([waitForMedia(alice, { video: false }), carrier.waitForRtp(25, 10_000)]);
    expect(inBrowser.audioBytes).toBeGreaterThan(0);
    expect(atCarrier.rxPackets).toBeGreaterThanOrEqual(25);
    await carrier.hangup();
    await idle(alice);
  });

  it('refuses a phone with no codec in common (488) and says so in the widget', async () => {
    const alice = await aliceWidget();
    // This phone speaks GSM only, which no browser offers: nothing to bridge without transcoding.
    const gsmOnly = await phone('bob-gsm', 'bob', { audioCodec: 'GSM' });
    await dial(alice, 'bob');
    await panel(alice).getByRole('alert').filter({ hasText: 'no media in common' }).waitFor({ timeout: 10_000 });
    const refusal = gsmOnly.sipMessages().find((m) => m.direction === 'sent' && /^SIP\/2.0 488/.test(m.startLine));
    expect(refusal).toBeDefined();
    await idle(alice);
  });
});

describe('widget with relay-only ICE through coturn', () => {
  let server: TestServer;
  let browser: Browser;
  let turn: Coturn;

  beforeAll(async () => {
    ensureWidgetBuilt();
    turn = await Coturn.start();
    [server, browser] = await Promise.all([
      startServer({ env: { TURN_URLS: turn.urls.join(','), TURN_SECRET: turn.secret, ICE_RELAY_ONLY: 'true' } }),
      launchChromium(),
    ]);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await turn?.stop();
  });

  it('connects two widgets with TURN-relayed candidates only: audio and video both ways, through coturn', async () => {
    const [alice, bob] = await Promise.all([
      browser.newContext().then((c) => signedInPage(c, server.url, 'alice@example.com', '/phone')),
      browser.newContext().then((c) => signedInPage(c, server.url, 'bob@example.com', '/phone')),
    ]);
    await Promise.all([waitForRegistered(alice), waitForRegistered(bob)]);
    await panelButton(alice, 'Video on').click();
    await dial(alice, 'bob');
    await panelButton(bob, 'Video on').click();
    await panelButton(bob, 'Answer').click();
    const [atAlice, atBob] = await Promise.all([waitForMedia(alice, { video: true, timeoutMs: 20_000 }), waitForMedia(bob, { video: true, timeoutMs: 20_000 })]);
    expect(atAlice.framesDecoded).toBeGreaterThan(0);
    expect(atBob.framesDecoded).toBeGreaterThan(0);
    // Each side sends from its own TURN relay candidate: every packet went through coturn. (The
    // remote end may show as peer-reflexive: its checks can arrive before the answer names it.)
    const localCandidateType = (page: Page) =>
      page.evaluate(async () => {
        const pc = (window as unknown as { ringside: { peerConnection(): RTCPeerConnection | null } }).ringside.peerConnection()!;
        const stats = await pc.getStats();
        let selected: { localCandidateId?: string } | undefined;
        stats.forEach((s) => {
          if (s.type === 'transport' && s.selectedCandidatePairId) selected = stats.get(s.selectedCandidatePairId);
        });
        return stats.get(selected!.localCandidateId!)?.candidateType as string | undefined;
      });
    expect(await localCandidateType(alice)).toBe('relay');
    expect(await localCandidateType(bob)).toBe('relay');
    expect(turn.allocations()).toBeGreaterThanOrEqual(2);
    await panelButton(alice, 'Hang up').click();
    await panel(bob).getByLabel('Number', { exact: true }).waitFor({ timeout: 10_000 });
  });
});
