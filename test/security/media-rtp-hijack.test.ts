/**
 * Security review #2 and S2 ("RTP bleed"): during a relayed call between a browser (Chromium:
 * ICE, DTLS-SRTP) and a phone (plain RTP/AVP), an attacker who knows nothing but the relay's
 * port range sprays small RTP packets at every port of it, before the answer, during the call and
 * after a re-INVITE. The relay must neither send it the browser's audio nor play its packets to
 * the browser: Chromium keeps receiving the phone's 440 Hz tone, packet for packet.
 *
 * Run against both relays, as src/media/relay.test.ts does. The old in-process relay latched to
 * the first packet after each answer (the attacker's, sent every 2 ms against the phone's 20 ms);
 * rtpengine without `strict-source` and heuristic learning learns whoever sends first too.
 */
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InProcessRelay, RtpengineRelay, type MediaRelay } from '../../src/media/index.ts';
import { rtpengineMissing, startRtpengine, type RtpengineDaemon } from '../../src/media/rtpengine/daemon.ts';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../support/browser.ts';
import { waitFor } from '../support/wait.ts';
import { RtpPeer, WeriftPeer } from '../support/werift-peer.ts';

const LOOPBACK = '127.0.0.1';
const ATTACKER_SSRC = 0xa77ac4ed;
/** Small ranges, so the attacker can hit every port every 2 ms (below the ephemeral range). */
const RANGES = { 'in-process': [24000, 24019], rtpengine: [24100, 24119] } as const;

// ------------------------------------------------------------------ the phone: a 440 Hz tone in PCMU

/** G.711 µ-law of a 16-bit sample (ITU-T G.711). */
function ulaw(sample: number): number {
  const sign = sample < 0 ? 0x80 : 0;
  const magnitude = Math.min(Math.abs(sample), 32635) + 0x84;
  let exponent = 7;
  for (let mask = 0x4000; (magnitude & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (magnitude >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

/** A desk phone's media: one socket, sends a loud 440 Hz tone every 20 ms, counts what it gets. */
class TonePhone {
  readonly ssrc = 0x0b0b0b0b;
  sent = 0;
  received = 0;
  private remote?: { host: string; port: number };
  private timer?: NodeJS.Timeout;
  private seq = 1000;
  private phase = 0;

  private constructor(readonly socket: Socket) {
    socket.on('message', (msg) => {
      if (msg.length >= 12 && msg[0]! >> 6 === 2 && (msg[1]! & 0x7f) < 64) this.received++;
    });
  }

  static async open(): Promise<TonePhone> {
    const socket = createSocket('udp4');
    socket.bind(0, LOOPBACK);
    await once(socket, 'listening');
    return new TonePhone(socket);
  }

  sdp(): string {
    const port = this.socket.address().port;
    return ['v=0', `o=phone 1 1 IN IP4 ${LOOPBACK}`, 's=-', `c=IN IP4 ${LOOPBACK}`, 't=0 0', `m=audio ${port} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', 'a=ptime:20', 'a=sendrecv', `a=ssrc:${this.ssrc} cname:phone`, ''].join('\r\n');
  }

  useRemote(sdp: string): void {
    this.remote = { host: /^c=IN IP4 (\S+)/m.exec(sdp)![1]!, port: Number(/^m=audio (\d+)/m.exec(sdp)![1]) };
  }

  start(): void {
    this.timer = setInterval(() => this.send(), 20);
  }

  private send(): void {
    if (!this.remote) return;
    const packet = Buffer.alloc(12 + 160);
    packet[0] = 0x80;
    packet[1] = 0;
    packet.writeUInt16BE((this.seq = (this.seq + 1) & 0xffff), 2);
    packet.writeUInt32BE((this.sent * 160) >>> 0, 4);
    packet.writeUInt32BE(this.ssrc, 8);
    for (let i = 0; i < 160; i++, this.phase++) packet[12 + i] = ulaw(Math.round(16000 * Math.sin((2 * Math.PI * 440 * this.phase) / 8000)));
    this.socket.send(packet, this.remote.port, this.remote.host);
    this.sent++;
  }

  close(): void {
    clearInterval(this.timer);
    this.socket.close();
  }
}

// ------------------------------------------------------------------ the attacker

/** Sprays 8-byte-payload RTP (PCMU silence) at every port of a range every 2 ms; counts what comes back. */
class Sprayer {
  received = 0;
  private timer?: NodeJS.Timeout;
  private readonly packet = Buffer.alloc(12 + 8, 0xff);
  private seq = 0;

  private constructor(private readonly socket: Socket) {
    socket.on('message', () => this.received++);
  }

  static async open(): Promise<Sprayer> {
    const socket = createSocket('udp4');
    socket.bind(0, LOOPBACK);
    await once(socket, 'listening');
    return new Sprayer(socket);
  }

  /** RTCP sender reports "from" the attacker's SSRC instead (BYE, PLI and REMB would get through alike). */
  startRtcp(min: number, max: number): void {
    const sr = Buffer.alloc(28);
    sr[0] = 0x80;
    sr[1] = 200;
    sr.writeUInt16BE(6, 2);
    sr.writeUInt32BE(ATTACKER_SSRC, 4);
    this.timer = setInterval(() => {
      for (let port = min; port <= max; port++) this.socket.send(sr, port, LOOPBACK);
    }, 2);
  }

  start(min: number, max: number): void {
    this.timer = setInterval(() => {
      const p = this.packet;
      p[0] = 0x80;
      p[1] = 0;
      p.writeUInt16BE((this.seq = (this.seq + 1) & 0xffff), 2);
      p.writeUInt32BE(this.seq * 8, 4);
      p.writeUInt32BE(ATTACKER_SSRC, 8);
      for (let port = min; port <= max; port++) this.socket.send(p, port, LOOPBACK);
    }, 2);
  }

  close(): void {
    clearInterval(this.timer);
    this.socket.close();
  }
}

// ------------------------------------------------------------------ the browser: a plain RTCPeerConnection in Chromium

interface Inbound {
  ssrc: number;
  packetsReceived: number;
  bytesReceived: number;
  totalAudioEnergy: number;
  totalSamplesDuration: number;
}

/** In the page: a peer connection sending the fake microphone and playing what it receives. */
async function inPageOffer(): Promise<string> {
  const w = window as unknown as { pc: RTCPeerConnection };
  const pc = (w.pc = new RTCPeerConnection());
  const mic = await navigator.mediaDevices.getUserMedia({ audio: true });
  for (const t of mic.getTracks()) pc.addTrack(t, mic);
  pc.ontrack = (e) => {
    const audio = document.createElement('audio');
    audio.srcObject = new MediaStream([e.track]);
    audio.autoplay = true;
    document.body.append(audio);
    void audio.play().catch(() => {});
  };
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise<void>((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
  });
  return pc.localDescription!.sdp;
}

/** In the page: answers an offer (first time, or a re-offer) with the fake microphone. */
async function inPageAnswer(offer: string): Promise<string> {
  const w = window as unknown as { pc?: RTCPeerConnection };
  if (!w.pc) {
    const pc = (w.pc = new RTCPeerConnection());
    pc.ontrack = (e) => {
      const audio = document.createElement('audio');
      audio.srcObject = new MediaStream([e.track]);
      audio.autoplay = true;
      document.body.append(audio);
      void audio.play().catch(() => {});
    };
    await pc.setRemoteDescription({ type: 'offer', sdp: offer });
    const mic = await navigator.mediaDevices.getUserMedia({ audio: true });
    for (const t of mic.getTracks()) pc.addTrack(t, mic);
  } else {
    await w.pc.setRemoteDescription({ type: 'offer', sdp: offer });
  }
  const pc = w.pc;
  await pc.setLocalDescription(await pc.createAnswer());
  await new Promise<void>((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
  });
  return pc.localDescription!.sdp;
}

const loopbackOnly = (sdp: string) =>
  sdp
    .split('\r\n')
    .filter((l) => !l.startsWith('a=candidate:') || l.split(' ')[4] === LOOPBACK)
    .join('\r\n');

class ChromiumCaller {
  constructor(readonly page: Page) {}

  async offer(): Promise<string> {
    return loopbackOnly(await this.page.evaluate(inPageOffer));
  }

  async reoffer(): Promise<string> {
    const sdp = await this.page.evaluate(async () => {
      const pc = (window as unknown as { pc: RTCPeerConnection }).pc;
      await pc.setLocalDescription(await pc.createOffer());
      return pc.localDescription!.sdp;
    });
    return loopbackOnly(sdp);
  }

  async answer(offer: string): Promise<string> {
    return loopbackOnly(await this.page.evaluate(inPageAnswer, offer));
  }

  async accept(sdp: string): Promise<void> {
    await this.page.evaluate((answer) => (window as unknown as { pc: RTCPeerConnection }).pc.setRemoteDescription({ type: 'answer', sdp: answer }), sdp);
  }

  /** Every inbound audio stream the browser has (Chromium makes one per SSRC it plays). */
  inbound(): Promise<Inbound[]> {
    return this.page.evaluate(async () => {
      const stats = await (window as unknown as { pc: RTCPeerConnection }).pc.getStats();
      const out: Inbound[] = [];
      stats.forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'audio') {
          out.push({ ssrc: s.ssrc, packetsReceived: s.packetsReceived ?? 0, bytesReceived: s.bytesReceived ?? 0, totalAudioEnergy: s.totalAudioEnergy ?? 0, totalSamplesDuration: s.totalSamplesDuration ?? 0 });
        }
      });
      return out;
    });
  }
}

// ------------------------------------------------------------------ the two relays

interface Implementation {
  name: keyof typeof RANGES;
  skip: string | false;
  start(): Promise<MediaRelay>;
  stop(): Promise<void>;
}

let daemon: RtpengineDaemon | undefined;
const missing = rtpengineMissing();
const implementations: Implementation[] = [
  {
    name: 'in-process',
    skip: false,
    start: async () => new InProcessRelay({ portMin: RANGES['in-process'][0], portMax: RANGES['in-process'][1] }),
    stop: async () => {},
  },
  {
    name: 'rtpengine',
    skip: missing ? `rtpengine is not installed (${missing})` : false,
    start: async () => {
      daemon = await startRtpengine({ portMin: RANGES.rtpengine[0], portMax: RANGES.rtpengine[1] });
      return new RtpengineRelay({ ng: daemon.ng });
    },
    stop: async () => daemon?.stop(),
  },
];

describe('media relay under an RTP spray (security review #2, S2)', () => {
  let browser: Browser;
  let site: Server;
  let siteUrl: string;

  beforeAll(async () => {
    // getUserMedia needs a secure context: a blank page from 127.0.0.1.
    site = createServer((_, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>caller</title>'));
    site.listen(0, LOOPBACK);
    await once(site, 'listening');
    siteUrl = `http://${LOOPBACK}:${(site.address() as AddressInfo).port}/`;
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS, '--autoplay-policy=no-user-gesture-required'], headless: true });
  }, 30_000);
  afterAll(async () => {
    await browser?.close();
    site?.close();
  });

  /** One relayed call under the spray: set up, checked, re-INVITEd by the side that called, checked again. */
  async function callUnderSpray(impl: Implementation, caller: 'browser' | 'phone'): Promise<void> {
    const relay = await impl.start();
    const phone = await TonePhone.open();
    const attacker = await Sprayer.open();
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(siteUrl);
      const chromium = new ChromiumCaller(page);
      const [min, max] = RANGES[impl.name];
      attacker.start(min, max); // before the call exists: the ports are about to be handed out
      const callId = `hijack-${impl.name}-${caller}-${process.pid}`;
      const signallingSource = LOOPBACK;

      if (caller === 'browser') {
        // The browser calls the phone; the phone starts its tone as soon as it knows where to.
        const offer = await relay.offer({ callId, fromTag: 'browser', sdp: await chromium.offer(), to: 'rtp', signallingSource });
        phone.useRemote(offer.sdp);
        phone.start();
        const answer = await relay.answer({ callId, fromTag: 'browser', toTag: 'phone', sdp: phone.sdp(), signallingSource });
        await chromium.accept(answer.sdp);
        await expectOnlyThePhone(chromium, phone, attacker);

        // A re-INVITE from the browser (same media): the relay must not open up again.
        const reoffer = await relay.offer({ callId, fromTag: 'browser', sdp: await chromium.reoffer(), to: 'rtp', signallingSource });
        phone.useRemote(reoffer.sdp);
        const reanswer = await relay.answer({ callId, fromTag: 'browser', toTag: 'phone', sdp: phone.sdp(), signallingSource });
        await chromium.accept(reanswer.sdp);
      } else {
        // The phone (or a trunk) calls the browser.
        const offer = await relay.offer({ callId, fromTag: 'phone', sdp: phone.sdp(), to: 'webrtc', signallingSource });
        const answer = await relay.answer({ callId, fromTag: 'phone', toTag: 'browser', sdp: await chromium.answer(offer.sdp), signallingSource });
        phone.useRemote(answer.sdp);
        phone.start();
        await expectOnlyThePhone(chromium, phone, attacker);

        // A re-INVITE from the phone (same media).
        const reoffer = await relay.offer({ callId, fromTag: 'phone', sdp: phone.sdp(), to: 'webrtc', signallingSource });
        const reanswer = await relay.answer({ callId, fromTag: 'phone', toTag: 'browser', sdp: await chromium.answer(reoffer.sdp), signallingSource });
        phone.useRemote(reanswer.sdp);
      }
      await expectOnlyThePhone(chromium, phone, attacker);
      await relay.delete(callId);
    } finally {
      attacker.close();
      phone.close();
      await context.close();
      await relay.close();
      await impl.stop();
    }
  }

  for (const impl of implementations) {
    for (const caller of ['browser', 'phone'] as const) {
      it.skipIf(impl.skip !== false)(
        `${impl.name}, the ${caller} calling: the attacker gets no RTP and the browser keeps playing the phone's tone, before and after a re-INVITE`,
        () => callUnderSpray(impl, caller),
        90_000,
      );
    }
  }
});

/**
 * Over a window of 150 phone packets (3 s, longer than rtpengine's learning delay): the browser
 * gets the phone's packets (160-byte payloads, a loud tone), no stream with the attacker's SSRC;
 * the phone gets the browser's audio; the attacker gets nothing at all.
 */
async function expectOnlyThePhone(caller: ChromiumCaller, phone: TonePhone, attacker: Sprayer): Promise<void> {
  // Media flows first (ICE and DTLS, or the re-negotiation).
  await waitFor(async () => (await caller.inbound()).some((s) => s.packetsReceived > 25), { timeoutMs: 15_000, intervalMs: 100, what: 'audio in the browser' });
  const before = await caller.inbound();
  const sentBefore = phone.sent;
  const receivedBefore = phone.received;
  await waitFor(() => phone.sent >= sentBefore + 150, { timeoutMs: 15_000, intervalMs: 50, what: 'the phone to send 150 packets' });
  const after = await caller.inbound();

  expect(after.map((s) => s.ssrc)).not.toContain(ATTACKER_SSRC);
  const delta = (pick: (s: Inbound) => number) => after.reduce((n, s) => n + pick(s), 0) - before.reduce((n, s) => n + pick(s), 0);
  const packets = delta((s) => s.packetsReceived);
  const sent = phone.sent - sentBefore;
  // Packet for packet the phone's stream (allowing for the few in flight at either end).
  expect(packets).toBeGreaterThanOrEqual(sent * 0.8);
  expect(packets).toBeLessThanOrEqual(sent * 1.1);
  expect(delta((s) => s.bytesReceived) / packets).toBeGreaterThan(150); // 160-byte PCMU payloads, not 8-byte ones
  const seconds = delta((s) => s.totalSamplesDuration);
  if (seconds > 0) expect(delta((s) => s.totalAudioEnergy) / seconds).toBeGreaterThan(0.02); // the tone, not silence
  expect(phone.received - receivedBefore).toBeGreaterThan(100); // the browser's audio reached the phone
  expect(attacker.received).toBe(0);
}

describe('media relay under an RTCP spray (security review #2)', () => {
  for (const impl of implementations) {
    it.skipIf(impl.skip !== false)(
      `${impl.name}: no RTCP from the attacker reaches the browser${impl.name === 'in-process' ? ", the phone's own reports do" : ''}`,
      async () => {
        const relay = await impl.start();
        // werift plays the browser here: it shows every RTCP packet that reaches it.
        const browser = new WeriftPeer(impl.name === 'rtpengine' ? { answerDtlsRole: 'server' } : {});
        const phone = await RtpPeer.open();
        const attacker = await Sprayer.open();
        try {
          const [min, max] = RANGES[impl.name];
          attacker.startRtcp(min, max);
          const callId = `rtcp-${impl.name}-${process.pid}`;
          const offer = await relay.offer({ callId, fromTag: 'browser', sdp: await browser.createOffer(), to: 'rtp', signallingSource: LOOPBACK });
          phone.useRemote(offer.sdp);
          const answer = await relay.answer({ callId, fromTag: 'browser', toTag: 'phone', sdp: phone.sdp(), signallingSource: LOOPBACK });
          await browser.acceptAnswer(answer.sdp);
          await browser.connected();
          const senders: number[] = [];
          browser.pc.dtlsTransports[0]!.onRtcp.subscribe((rtcp) => senders.push((rtcp as { ssrc?: number }).ssrc ?? -1));

          // Two seconds of a call with the phone's audio (and, every 100 ms, its sender report).
          const before = browser.audio.received;
          phone.startSending();
          const reports = setInterval(() => phone.sendSenderReport(), 100);
          try {
            await browser.audio.waitFor(before + 100, 10_000, 'browser ← phone');
            if (impl.name === 'in-process') await waitFor(() => senders.length > 0, { what: "the phone's sender reports at the browser" });
          } finally {
            clearInterval(reports);
            phone.stopSending();
          }
          expect(senders).not.toContain(ATTACKER_SSRC);
          expect(attacker.received).toBe(0);
          await relay.delete(callId);
        } finally {
          attacker.close();
          phone.close();
          await browser.close();
          await relay.close();
          await impl.stop();
        }
      },
      60_000,
    );
  }
});
