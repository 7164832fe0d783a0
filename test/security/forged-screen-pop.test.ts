/**
 * Security review #7 (issue 13, must hold 8): the other party of a call learns the server's call
 * id (X-Ringside-Call) and can send MESSAGEs inside its dialog. Relayed to the agent's widget with
 * Ringside's content type, such a MESSAGE replaced the call card: the attacker's name, a phishing
 * link, and in Salesforce a screenPop of a record it picked. Now the server refuses to relay it
 * (415), and the widget takes pops only from the server's own MESSAGE outside any dialog.
 * Real Chromium with the built widget; the attacker is a caller behind the trunk, over UDP.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SipRequest, newTag, parseUri, randomToken, type SipResponse } from '../../src/sip/index.ts';
import { launchChromium } from '../support/browser.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { TestPhone } from '../support/sip-phone.ts';
import { ensureWidgetBuilt, panelButton, signedInPage, waitForRegistered } from '../support/widget.ts';

const JANE_WORK = '+14155550134'; // a demo contact's number, and a DID of Alice's here
const RINGSIDE_JSON = 'application/vnd.ringside+json';

function forgedPop(callId: string) {
  return {
    type: 'screen-pop',
    call_id: callId,
    direction: 'inbound',
    number: '+14155550100',
    caller_name: 'IT Helpdesk',
    colleague: null,
    linked: null,
    matches: [
      { type: 'contact', id: '003000000000001AAA', name: 'IT Helpdesk – verify your login', title: null, account: 'Corp IT', url: 'https://evil.example/sso', match: 'exact', last_activity: null },
    ],
  };
}

describe('a forged screen pop from the other party of a call', () => {
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let attacker: TestPhone;
  const serverAddress = { address: '127.0.0.1', port: 0 };

  beforeAll(async () => {
    ensureWidgetBuilt();
    // The attacker is the carrier's side of a call: a SIP phone whose address is the trunk's.
    attacker = await TestPhone.start({ user: 'caller', password: 'unused', domain: '127.0.0.1', server: serverAddress, answer: 'busy' });
    const attackerPort = attacker.endpoint.transport.local('UDP')!.port;
    [server, browser] = await Promise.all([
      startServer({ env: { TRUNKS: JSON.stringify([{ name: 'carrier', host: '127.0.0.1', port: attackerPort, dids: { [JANE_WORK]: 'alice' } }]) } }),
      launchChromium(),
    ]);
    serverAddress.port = server.ringside.sip.ports.udp!;
  });
  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await attacker?.close();
    await server?.stop();
  });

  const panel = (page: Page) => page.locator('#ringside-softphone');

  /** Sends a MESSAGE from the server's own SIP endpoint to Alice's browser, with these From and To. */
  async function messageToBrowser(from: string, to: string, body: unknown): Promise<SipResponse> {
    const sip = server.ringside.sip;
    const alice = (await sip.users.find('alice'))!;
    const binding = (await sip.location.bindings(alice.id)).find((b) => b.transport === 'WS' || b.transport === 'WSS')!;
    const message = new SipRequest('MESSAGE', parseUri(binding.contact));
    message.setHeader('From', from);
    message.setHeader('To', to);
    message.setHeader('Call-ID', `${randomToken(10)}@test`);
    message.setHeader('CSeq', '1 MESSAGE');
    message.setHeader('Content-Type', RINGSIDE_JSON);
    message.body = Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      sip.endpoint.request(message, sip.location.destination(binding)!, {
        onResponse: (r) => r.status >= 200 && resolve(r),
        onTimeout: () => reject(new Error('MESSAGE timed out')),
        onTransportError: () => reject(new Error('MESSAGE transport error')),
      });
    });
  }

  it("does not change the card: the server refuses to relay it, and the widget ignores pops that are not the server's own", async () => {
    context = await browser.newContext();
    const alice = await signedInPage(context, server.url, 'alice@example.com', '/contacts');
    await waitForRegistered(alice);

    // The attacker calls Alice's DID showing Jane's number: the legitimate pop names Jane.
    const answered = attacker.call(`sip:${JANE_WORK}@127.0.0.1`, { from: `sip:${JANE_WORK}@carrier.example` });
    await panelButton(alice, 'Answer').waitFor();
    const card = panel(alice).locator('.sp-call');
    await card.locator('.sp-remote-name', { hasText: 'Jane Doe' }).waitFor({ timeout: 5000 });
    await panelButton(alice, 'Answer').click();
    const ok = await answered;
    expect(ok.status).toBe(200);
    const callId = ok.header('X-Ringside-Call')!; // what the attacker learns from the answer
    expect(callId).toMatch(/^[0-9a-f-]{36}$/);

    // 1. In its own dialog, through the server: refused, not relayed.
    const dialog = attacker.outgoingDialog!;
    const refused = await new Promise<SipResponse>((resolve, reject) => {
      const forged = dialog.createRequest('MESSAGE', { body: Buffer.from(JSON.stringify(forgedPop(callId))), contentType: RINGSIDE_JSON });
      attacker.endpoint.request(forged, attacker.server, {
        onResponse: (r) => r.status >= 200 && resolve(r),
        onTimeout: () => reject(new Error('no answer to the forged MESSAGE')),
        onTransportError: () => reject(new Error('transport error')),
      });
    });
    expect(refused.status).toBe(415);

    // 2. Had it been relayed (the old server): inside a dialog (To tag), or not from the server's
    // own address, the widget takes it (JsSIP answers 200) and ignores it.
    const aliceUri = '<sip:alice@127.0.0.1>';
    expect((await messageToBrowser(`<sip:ringside@127.0.0.1>;tag=${newTag()}`, `${aliceUri};tag=${newTag()}`, forgedPop(callId))).status).toBe(200);
    expect((await messageToBrowser(`<sip:${JANE_WORK}@127.0.0.1>;tag=${newTag()}`, aliceUri, forgedPop(callId))).status).toBe(200);
    expect((await messageToBrowser(`<sip:ringside@evil.example>;tag=${newTag()}`, aliceUri, forgedPop(callId))).status).toBe(200);

    // JsSIP handled each one before answering 200; two animation frames later any re-render is on screen.
    await alice.evaluate(() => new Promise<void>((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => resolve()))));
    expect(await card.locator('.sp-remote-name').textContent()).toBe('Jane Doe');
    expect(await panel(alice).textContent()).not.toContain('IT Helpdesk');
    expect(await panel(alice).locator('a[href*="evil.example"]').count()).toBe(0);

    // 3. The server's own pop still works.
    const legit = { ...forgedPop(callId), caller_name: 'Server-sent caller', matches: [] };
    expect(await server.ringside.sip.notifyUser((await server.ringside.sip.users.find('alice'))!.id, legit)).toBe(1);
    await card.locator('.sp-remote-name', { hasText: 'Server-sent caller' }).waitFor({ timeout: 5000 });

    await panelButton(alice, 'Hang up').click();
  });
});
