import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../test/support/browser.ts';
import { startServer, type TestServer } from '../../test/support/server.ts';
import { dial, ensureWidgetBuilt, panelButton, signedInPage, waitForMedia, waitForRegistered } from '../../test/support/widget.ts';

/** Waits until the browser has negotiated the call's audio to one of these directions. */
function audioDirection(page: Page, directions: string[]) {
  return page.waitForFunction((wanted) => {
    const pc = (window as unknown as { ringside: { peerConnection(): RTCPeerConnection | null } }).ringside.peerConnection();
    const direction = pc?.getTransceivers().find((x) => x.receiver.track.kind === 'audio')?.currentDirection;
    return direction && wanted.includes(direction) ? direction : null;
  }, directions);
}

/** In the page: the call's audio sender and transceiver, as the browser has them. */
function audioSide(page: Page) {
  return page.evaluate(() => {
    const pc = (window as unknown as { ringside: { peerConnection(): RTCPeerConnection | null } }).ringside.peerConnection()!;
    const t = pc.getTransceivers().find((x) => x.receiver.track.kind === 'audio')!;
    return { enabled: t.sender.track?.enabled ?? null, direction: t.currentDirection };
  });
}

describe('softphone widget: call controls and messages', () => {
  let server: TestServer;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    ensureWidgetBuilt();
    [server, browser] = await Promise.all([startServer({ env: { SIP_RING_TIMEOUT_S: '5' } }), launchChromium()]);
  });
  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  async function signedIn(email: string, pagePath = '/phone', init?: string): Promise<Page> {
    const context = await browser.newContext();
    contexts.push(context);
    if (init) await context.addInitScript(init);
    const page = await signedInPage(context, server.url, email, pagePath);
    await waitForRegistered(page);
    return page;
  }

  const panel = (page: Page) => page.locator('#ringside-softphone');
  const alertText = async (page: Page, text: string) => panel(page).getByRole('alert').filter({ hasText: text }).waitFor();

  it('mutes, holds, sends keypad tones, turns the camera on and off and restarts ICE during a call', async () => {
    const alice = await signedIn('alice@example.com');
    const bob = await signedIn('bob@example.com');
    await dial(alice, '1002');
    await panelButton(bob, 'Answer').click();
    await waitForMedia(bob, { video: false });

    await panelButton(alice, 'Mute').click();
    await panelButton(alice, 'Unmute').waitFor();
    expect((await audioSide(alice)).enabled).toBe(false);
    await panelButton(alice, 'Unmute').click();
    await panelButton(alice, 'Mute').waitFor();
    expect((await audioSide(alice)).enabled).toBe(true);

    // Hold is a re-INVITE through the server: the browser then only sends (or nothing).
    await panelButton(alice, 'Hold').click();
    await panelButton(alice, 'Resume').waitFor();
    expect(await panel(alice).locator('.sp-call-phase').textContent()).toBe('On hold');
    await audioDirection(alice, ['sendonly', 'inactive']); // once the re-INVITE is answered
    await panelButton(alice, 'Resume').click();
    await panelButton(alice, 'Hold').waitFor();
    await audioDirection(alice, ['sendrecv']);

    // Keypad: telephone-events (RFC 4733) were negotiated, so the tone goes in the RTP stream.
    await alice.evaluate(() => {
      const pc = (window as unknown as { ringside: { peerConnection(): RTCPeerConnection } }).ringside.peerConnection();
      const dtmf = pc.getSenders().find((s) => s.track?.kind === 'audio')!.dtmf!;
      const tones: string[] = ((window as unknown as { tones: string[] }).tones = []);
      dtmf.addEventListener('tonechange', (e) => tones.push((e as RTCDTMFToneChangeEvent).tone));
    });
    await panelButton(alice, 'Keypad').click();
    await panel(alice).getByRole('group', { name: 'Keypad tones' }).getByRole('button', { name: '5', exact: true }).click();
    await alice.waitForFunction(() => (window as unknown as { tones: string[] }).tones.includes('5'));

    // The camera in an audio call: a re-INVITE adds video, and Bob decodes it.
    await panelButton(alice, 'Video on').click();
    await panelButton(alice, 'Video off').waitFor();
    await waitForMedia(bob, { video: true });
    await panelButton(alice, 'Video off').click();
    await panelButton(alice, 'Video on').waitFor();
    expect(await alice.evaluate(() => (window as unknown as { ringside: { peerConnection(): RTCPeerConnection } }).ringside.peerConnection().getSenders().find((s) => s.track?.kind === 'video'))).toBeUndefined();

    // The network changed: new ICE credentials and candidates over a re-INVITE, media goes on.
    const ufrag = () =>
      alice.evaluate(() => /a=ice-ufrag:(\S+)/.exec((window as unknown as { ringside: { peerConnection(): RTCPeerConnection } }).ringside.peerConnection().localDescription!.sdp)?.[1]);
    const before = await ufrag();
    const received = await waitForMedia(bob, { video: false });
    await alice.evaluate(() => window.dispatchEvent(new Event('online')));
    await panel(alice).locator('.sp-notice').filter({ hasText: 'Reconnecting the call' }).waitFor();
    await alice.waitForFunction(
      (old) => /a=ice-ufrag:(\S+)/.exec((window as unknown as { ringside: { peerConnection(): RTCPeerConnection } }).ringside.peerConnection().localDescription!.sdp)?.[1] !== old,
      before,
    );
    expect(await ufrag()).not.toBe(before);
    await waitForMedia(bob, { video: false, moreThan: received });

    await panelButton(bob, 'Hang up').click();
    await panel(alice).getByRole('status').filter({ hasText: 'Registered' }).waitFor();
    await panel(alice).locator('.sp-notice-info').filter({ hasText: 'Call ended' }).waitFor();
  });

  it('says plainly why a call did not happen: declined, no answer, number not allowed, microphone blocked', async () => {
    const alice = await signedIn('alice@example.com');
    const bob = await signedIn('bob@example.com');

    await dial(alice, 'bob');
    await panelButton(bob, 'Decline').click();
    await alertText(alice, 'Call declined');

    await dial(alice, 'bob');
    await panelButton(bob, 'Answer').waitFor();
    await alertText(alice, 'No answer'); // the server's ring timeout (5 s here)
    await panel(bob).locator('.sp-notice').filter({ hasText: 'Missed call' }).waitFor();

    await dial(alice, '+44 20 7946 0321'); // outside the allowed prefixes (+1)
    await alertText(alice, 'Number not allowed');

    const blocked = await signedIn('alice@example.com', '/phone', `navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));`);
    await dial(blocked, 'bob');
    await alertText(blocked, 'Microphone blocked');
  });

  it('lets a person pick the microphone, speaker and camera, and asks before showing notifications', async () => {
    const alice = await signedIn('alice@example.com');
    await panel(alice).getByText('Devices and notifications').click();
    const kinds = { Microphone: 'audioinput', Speaker: 'audiooutput', Camera: 'videoinput' };
    for (const [label, kind] of Object.entries(kinds)) {
      const picker = panel(alice).getByLabel(label, { exact: true });
      // The browser lists its (fake) devices a moment after the section opens.
      await alice.waitForFunction((id) => (document.getElementById(id) as HTMLSelectElement).options.length > 1, `sp-device-${kind}`);
      const value = await picker.locator('option').nth(1).getAttribute('value');
      await picker.selectOption(value!);
    }
    expect(await alice.evaluate(() => localStorage.getItem('ringside.microphone'))).toBeTruthy();
    // Notifications only when asked for: a button, never a prompt on page load.
    expect(await alice.evaluate(() => Notification.permission)).toBe('default');
    expect(await panelButton(alice, 'Show incoming calls as desktop notifications').isVisible()).toBe(true);
  });

  it('reconnects and registers again after losing its WebSocket', async () => {
    // Keep the page's WebSockets reachable, to cut one as a network would.
    const alice = await signedIn(
      'alice@example.com',
      '/phone',
      `(() => { const Native = WebSocket; window.sockets = []; window.WebSocket = class extends Native { constructor(...a) { super(...a); window.sockets.push(this); } }; })();`,
    );
    await alice.evaluate(() => (window as unknown as { sockets: WebSocket[] }).sockets.forEach((s) => s.close()));
    await panel(alice).locator('#sp-registration[data-status="offline"]').waitFor();
    expect(await panel(alice).getByRole('status').textContent()).toContain('connection lost');
    await waitForRegistered(alice, 10_000); // JsSIP retries after 2 s, then backs off
  });
});

describe('softphone widget: ICE settings from the server', () => {
  it('uses the STUN/TURN servers and the relay-only policy of /api/v1/softphone', async () => {
    ensureWidgetBuilt();
    const server = await startServer({
      env: { STUN_URLS: 'stun:127.0.0.1:3478', TURN_URLS: 'turn:127.0.0.1:3478?transport=udp', TURN_SECRET: 'coturn-secret', ICE_RELAY_ONLY: 'true' },
    });
    const browser = await launchChromium();
    try {
      const alice = await signedInPage(await browser.newContext(), server.url, 'alice@example.com', '/phone');
      await waitForRegistered(alice);
      await dial(alice, 'bob'); // nobody answers: only the peer connection's settings matter here
      const config = await alice.waitForFunction(() => {
        const pc = (window as unknown as { ringside: { peerConnection(): RTCPeerConnection | null } }).ringside.peerConnection();
        return pc ? JSON.parse(JSON.stringify(pc.getConfiguration())) : null;
      });
      const { iceTransportPolicy, iceServers } = (await config.jsonValue()) as RTCConfiguration;
      expect(iceTransportPolicy).toBe('relay');
      expect(iceServers?.map((s) => s.urls)).toEqual([['stun:127.0.0.1:3478'], ['turn:127.0.0.1:3478?transport=udp']]);
      expect(iceServers?.[1]?.username).toMatch(/^\d+:/);
      await panelButton(alice, 'Hang up').click();
    } finally {
      await browser.close();
      await server.stop();
    }
  });
});
