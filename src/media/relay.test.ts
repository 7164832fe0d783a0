/**
 * The media relay contract, proved the same way against both implementations: a werift peer plays
 * the browser, a plain UDP socket plays the phone, the relay sits between them on 127.0.0.1.
 */
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../test/support/wait.ts';
import { RtpPeer, WeriftPeer } from '../../test/support/werift-peer.ts';
import { InProcessRelay, RelayError, RtpengineRelay, type MediaRelay } from './index.ts';
import { rtpengineMissing, startRtpengine, type RtpengineDaemon } from './rtpengine/daemon.ts';

// Below Linux's ephemeral range (32768–60999): a port the relay freed is not taken meanwhile by
// another test's socket bound to port 0, so "freed" can be checked by binding it.
const PORT_MIN = 21000;
const PORT_MAX = 21999;

interface Implementation {
  name: string;
  /** How the test browser answers (werift as DTLS client stalls against rtpengine: see its relay.ts). */
  browser: ConstructorParameters<typeof WeriftPeer>[0];
  skip: string | false;
  setup(): Promise<void>;
  create(mediaTimeoutMs?: number): MediaRelay;
  teardown(): Promise<void>;
}

let daemon: RtpengineDaemon | undefined;
const missing = rtpengineMissing();
const implementations: Implementation[] = [
  {
    name: 'in-process',
    browser: {},
    skip: false,
    setup: async () => {},
    create: (mediaTimeoutMs) => new InProcessRelay({ portMin: PORT_MIN, portMax: PORT_MAX, mediaTimeoutMs }),
    teardown: async () => {},
  },
  {
    name: 'rtpengine',
    browser: { answerDtlsRole: 'server' },
    skip: missing ? `rtpengine is not installed (${missing}); apt-get install rtpengine-daemon` : false,
    setup: async () => {
      daemon = await startRtpengine({ portMin: 22000, portMax: 22999 });
    },
    create: (mediaTimeoutMs) => new RtpengineRelay({ ng: daemon!.ng, mediaTimeoutMs }),
    teardown: async () => {
      await daemon?.stop();
    },
  },
];

let callSeq = 0;
const newCallId = () => `call-${process.pid}-${++callSeq}@test`;

for (const impl of implementations) {
  describe.skipIf(impl.skip !== false)(`media relay: ${impl.name}${impl.skip ? ` (skipped: ${impl.skip})` : ''}`, () => {
    let relay: MediaRelay;
    const cleanups: (() => unknown)[] = [];

    beforeAll(async () => {
      await impl.setup();
      relay = impl.create();
    });
    afterAll(async () => {
      await relay?.close();
      await impl.teardown();
    });
    afterEach(async () => {
      for (const c of cleanups.splice(0).reverse()) await c();
    });

    async function peers() {
      const browser = new WeriftPeer(impl.browser);
      const phone = await RtpPeer.open();
      cleanups.push(
        () => browser.close(),
        () => phone.close(),
      );
      return { browser, phone };
    }

    /** A browser calls a phone: its WebRTC offer goes to the phone as RTP/AVP. */
    async function browserCallsPhone(r: MediaRelay = relay) {
      const { browser, phone } = await peers();
      const callId = newCallId();
      cleanups.push(() => r.delete(callId));
      const offer = await r.offer({ callId, fromTag: 'browser-tag', sdp: await browser.createOffer(), to: 'rtp' });
      phone.useRemote(offer.sdp);
      const answer = await r.answer({ callId, fromTag: 'browser-tag', toTag: 'phone-tag', sdp: phone.sdp() });
      await browser.acceptAnswer(answer.sdp);
      await browser.connected();
      return { browser, phone, callId, offer: offer.sdp, answer: answer.sdp };
    }

    /** A phone (or trunk) calls a browser: its RTP/AVP offer goes to the browser as WebRTC. */
    async function phoneCallsBrowser() {
      const { browser, phone } = await peers();
      const callId = newCallId();
      cleanups.push(() => relay.delete(callId));
      const offer = await relay.offer({ callId, fromTag: 'phone-tag', sdp: phone.sdp(), to: 'webrtc' });
      const browserAnswer = await browser.answer(offer.sdp);
      const answer = await relay.answer({ callId, fromTag: 'phone-tag', toTag: 'browser-tag', sdp: browserAnswer });
      phone.useRemote(answer.sdp);
      await browser.connected();
      return { browser, phone, callId, offer: offer.sdp, answer: answer.sdp };
    }

    /** Both send PCMU every 20 ms until each has received `n` packets from the other. */
    async function audioBothWays(browser: WeriftPeer, phone: RtpPeer, n = 25) {
      const b0 = browser.audio.received;
      const p0 = phone.audio.received;
      browser.startSending();
      phone.startSending();
      try {
        await Promise.all([browser.audio.waitFor(b0 + n, 8000, 'browser ← phone'), phone.audio.waitFor(p0 + n, 8000, 'phone ← browser')]);
      } finally {
        browser.stopSending();
        phone.stopSending();
      }
    }

    it('bridges a browser calling a phone: plain RTP/AVP offer, WebRTC answer, audio both ways, counted in stats', async () => {
      const { browser, phone, callId, offer, answer } = await browserCallsPhone();
      expect(offer).toMatch(/^m=audio \d+ RTP\/AVP /m);
      expect(offer).not.toMatch(/a=(fingerprint|ice-ufrag|candidate|rtcp-mux|crypto)/);
      expect(offer).toMatch(/a=rtpmap:0 PCMU\/8000/);
      expect(answer).toMatch(/^m=audio \d+ UDP\/TLS\/RTP\/SAVPF /m);
      expect(answer).toMatch(/a=fingerprint:sha-256 /);
      expect(answer).toMatch(/a=ice-ufrag:/);
      expect(answer).toMatch(/a=rtcp-mux/);
      for (const c of answer.match(/^a=candidate:.*$/gm) ?? []) expect(c.split(' ')[4]).toBe('127.0.0.1');

      await audioBothWays(browser, phone);
      expect(phone.audio.payloadTypes).toEqual(new Set([0]));
      const stats = await relay.stats(callId);
      const byTag = Object.fromEntries(stats.map((s) => [s.tag, s]));
      expect(byTag['browser-tag']!.packetsReceived).toBeGreaterThanOrEqual(25);
      expect(byTag['phone-tag']!.packetsReceived).toBeGreaterThanOrEqual(25);
      expect(byTag['phone-tag']!.packetsSent).toBeGreaterThanOrEqual(25);
      expect(byTag['phone-tag']!.packetsLost).toBe(0);
    });

    it('bridges a phone calling a browser: WebRTC offer from the relay, plain answer for the phone, audio both ways', async () => {
      const { browser, phone, offer, answer } = await phoneCallsBrowser();
      expect(offer).toMatch(/^m=audio \d+ UDP\/TLS\/RTP\/SAVPF /m);
      expect(offer).toMatch(/a=fingerprint:sha-256 /);
      expect(offer).toMatch(/a=setup:actpass/);
      expect(offer).not.toMatch(/a=rtpmap:\d+ (G729|GSM)/);
      expect(answer).toMatch(/^m=audio \d+ RTP\/AVP /m);
      expect(answer).not.toMatch(/a=(fingerprint|ice-ufrag|candidate|crypto)/);
      await audioBothWays(browser, phone);
    });

    it.skipIf(impl.name === 'rtpengine')('measures the round trip to the browser from the RTCP it relays', async () => {
      const { browser, phone, callId } = await browserCallsPhone();
      await audioBothWays(browser, phone, 5);
      // The phone's sender reports reach the browser, whose receiver reports answer them.
      browser.startSending();
      phone.startSending();
      cleanups.push(
        () => browser.stopSending(),
        () => phone.stopSending(),
      );
      const { rtt } = await waitFor(
        async () => {
          phone.sendSenderReport();
          const rtt = (await relay.stats(callId)).find((s) => s.tag === 'browser-tag')?.rttMs;
          return typeof rtt === 'number' ? { rtt } : null;
        },
        { timeoutMs: 8000, intervalMs: 100, what: 'an RTT in the browser side stats' },
      );
      expect(rtt).toBeGreaterThanOrEqual(0);
      expect(rtt).toBeLessThan(1000);
    });

    it('carries a hold re-offer from the browser (sendonly) to the phone and back, then resumes', async () => {
      const { browser, phone, callId } = await browserCallsPhone();
      await audioBothWays(browser, phone, 5);

      const hold = await relay.offer({ callId, fromTag: 'browser-tag', sdp: await browser.reoffer('sendonly'), to: 'rtp' });
      expect(hold.sdp).toMatch(/^a=sendonly/m);
      const held = await relay.answer({ callId, fromTag: 'browser-tag', toTag: 'phone-tag', sdp: phone.sdp({ direction: 'recvonly' }) });
      expect(held.sdp).toMatch(/^a=recvonly/m);
      await browser.acceptAnswer(held.sdp);

      const resume = await relay.offer({ callId, fromTag: 'browser-tag', sdp: await browser.reoffer('sendrecv'), to: 'rtp' });
      expect(resume.sdp).toMatch(/^a=sendrecv/m);
      phone.useRemote(resume.sdp);
      const resumed = await relay.answer({ callId, fromTag: 'browser-tag', toTag: 'phone-tag', sdp: phone.sdp() });
      await browser.acceptAnswer(resumed.sdp);
      await audioBothWays(browser, phone, 10);
    });

    it('carries a hold re-offer from the phone (a=inactive) to the browser', async () => {
      const { browser, phone, callId } = await phoneCallsBrowser();
      await audioBothWays(browser, phone, 5);
      const hold = await relay.offer({ callId, fromTag: 'phone-tag', sdp: phone.sdp({ direction: 'inactive' }), to: 'webrtc' });
      expect(hold.sdp).toMatch(/^a=inactive/m);
      expect(hold.sdp).not.toMatch(/^m=audio 0 /m); // port 0 would reject the line, not hold it
      expect(hold.sdp).toMatch(/a=fingerprint:/);
      const held = await relay.answer({ callId, fromTag: 'phone-tag', toTag: 'browser-tag', sdp: await browser.answer(hold.sdp) });
      expect(held.sdp).toMatch(/^a=inactive/m);
    });

    it('refuses an offer with no codec in common with 488 and a clear reason', async () => {
      const { phone } = await peers();
      const callId = newCallId();
      const attempt = relay.offer({ callId, fromTag: 'phone-tag', sdp: phone.sdp({ codecs: ['18 G729/8000', '3 GSM/8000'] }), to: 'webrtc' });
      await expect(attempt).rejects.toThrow(RelayError);
      await expect(attempt).rejects.toMatchObject({ sipStatus: 488, message: expect.stringMatching(/no codec in common.*G729/) });
      await expect(relay.stats(callId)).rejects.toThrow();
    });

    it('refuses a WebRTC offer without a=fingerprint with 488', async () => {
      const { browser } = await peers();
      const sdp = (await browser.createOffer()).replace(/^a=fingerprint:.*\r\n/gm, '');
      await expect(relay.offer({ callId: newCallId(), fromTag: 'browser-tag', sdp, to: 'rtp' })).rejects.toMatchObject({
        sipStatus: 488,
        message: expect.stringMatching(/fingerprint/),
      });
    });

    it('refuses hostile SDP with 488 and keeps working', async () => {
      const { phone } = await peers();
      const huge = phone.sdp() + `a=x-filler:${'x'.repeat(70 * 1024)}\r\n`;
      const noMedia = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n';
      const hostile = ['', 'garbage', '\u0000\u0001\u0002', huge, noMedia, phone.sdp().replace('m=audio', 'm=audio 99999999 RTP/AVP 0\r\nm=audio'), phone.sdp().replace(/RTP\/AVP/, 'RTP/SAVP')];
      for (const sdp of hostile) {
        await expect(relay.offer({ callId: newCallId(), fromTag: 'phone-tag', sdp, to: 'webrtc' }), JSON.stringify(sdp.slice(0, 40))).rejects.toMatchObject({ sipStatus: 488 });
        await expect(relay.offer({ callId: newCallId(), fromTag: 'browser-tag', sdp, to: 'rtp' }), JSON.stringify(sdp.slice(0, 40))).rejects.toMatchObject({ sipStatus: 488 });
      }
      const { browser: b, phone: p } = await browserCallsPhone();
      await audioBothWays(b, p, 5);
    });

    it('survives mutated browser offers: each is bridged or refused with a SIP status, nothing leaks', async () => {
      const { browser, phone } = await peers();
      const lines = (await browser.createOffer()).split('\r\n');
      let seed = 7;
      const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed % n);
      const junk = ['', '0', '-1', '99999999', 'x', ':', ' ', 'IN IP4', 'ZZ:ZZ', '\u0000', 'é', 'A'.repeat(300)];
      for (let i = 0; i < 60; i++) {
        const l = [...lines];
        for (let k = 0, n = 1 + rnd(3); k < n; k++) {
          const j = rnd(l.length);
          const op = rnd(4);
          if (op === 0) l.splice(j, 1);
          else if (op === 1) l[j] = l[j]!.replace(/[^ :]+$/, junk[rnd(junk.length)]!);
          else if (op === 2) l.splice(j, 0, l[rnd(l.length)]!);
          else l[j] = l[j]!.slice(0, rnd(l[j]!.length + 1));
        }
        const callId = newCallId();
        try {
          await relay.offer({ callId, fromTag: 'browser-tag', sdp: l.join('\r\n'), to: 'rtp' });
          await relay.answer({ callId, fromTag: 'browser-tag', toTag: 'phone-tag', sdp: phone.sdp() });
        } catch (e) {
          expect(e).toBeInstanceOf(RelayError);
          expect([488, 500]).toContain((e as RelayError).sipStatus);
        }
        await relay.delete(callId);
      }
      if (relay instanceof InProcessRelay) expect([relay.sessionCount, relay.portsInUse]).toEqual([0, 0]);
      const { browser: b, phone: p } = await browserCallsPhone();
      await audioBothWays(b, p, 5);
    });

    it('latches to the phone that answered, not to early media from another fork', async () => {
      const { browser, phone } = await peers();
      const otherFork = await RtpPeer.open();
      cleanups.push(() => otherFork.close());
      const callId = newCallId();
      cleanups.push(() => relay.delete(callId));
      const offer = await relay.offer({ callId, fromTag: 'browser-tag', sdp: await browser.createOffer(), to: 'rtp' });
      // Both forks got the offer; the one that will not answer sends early media first.
      otherFork.useRemote(offer.sdp);
      for (let i = 0; i < 5; i++) otherFork.sendPacket();
      phone.useRemote(offer.sdp);
      const answer = await relay.answer({ callId, fromTag: 'browser-tag', toTag: 'phone-tag', sdp: phone.sdp() });
      await browser.acceptAnswer(answer.sdp);
      await browser.connected();
      await audioBothWays(browser, phone, 10);
    });

    it('reports a media timeout when the browser goes silent after media flowed', async () => {
      const timed = impl.create(impl.name === 'rtpengine' ? 2000 : 600);
      cleanups.push(() => timed.close());
      const fired = new Promise<string>((resolve) => (timed.onMediaTimeout = resolve));
      const { browser, phone, callId } = await browserCallsPhone(timed);
      phone.startSending();
      cleanups.push(() => phone.stopSending());
      await audioBothWays(browser, phone, 5);
      phone.startSending(); // the phone keeps talking; the browser has vanished
      const started = Date.now();
      expect(await withTimeout(fired, 10_000, 'onMediaTimeout')).toBe(callId);
      expect(Date.now() - started).toBeGreaterThanOrEqual(impl.name === 'rtpengine' ? 1000 : 500);
    });

    /** A UDP socket on 127.0.0.1 that sends RTP (with a given SSRC) to the relay and counts what it gets. */
    async function rtpSender(ssrc: number, firstSeq = 0) {
      const socket = createSocket('udp4');
      socket.bind(0, '127.0.0.1');
      await once(socket, 'listening');
      let received = 0;
      let sent = 0;
      let seq = firstSeq;
      socket.on('message', () => received++);
      cleanups.push(() => socket.close());
      return {
        port: socket.address().port,
        get received() {
          return received;
        },
        get seq() {
          return seq;
        },
        get sent() {
          return sent;
        },
        send(to: number) {
          const p = Buffer.alloc(12 + 160, 0xff);
          p[0] = 0x80;
          p[1] = 0; // PCMU
          p.writeUInt16BE((seq = (seq + 1) & 0xffff), 2);
          p.writeUInt32BE(seq * 160, 4);
          p.writeUInt32BE(ssrc, 8);
          socket.send(p, to, '127.0.0.1');
          sent++;
        },
      };
    }

    it.skipIf(impl.name === 'rtpengine')('behind NAT (private c= address), takes the phone\'s media from its SIP source address on another port, and sends there', async () => {
      const { browser } = await peers();
      const callId = newCallId();
      cleanups.push(() => relay.delete(callId));
      const natted = await rtpSender(0x5a5a0001);
      const offer = await relay.offer({ callId, fromTag: 'browser-tag', sdp: await browser.createOffer(), to: 'rtp' });
      const relayPort = Number(/^m=audio (\d+)/m.exec(offer.sdp)![1]);
      // The phone announces its private address; its packets arrive from the NAT's public one.
      const sdp = [
        'v=0', 'o=phone 1 1 IN IP4 10.1.2.3', 's=-', 'c=IN IP4 10.1.2.3', 't=0 0', 'm=audio 4000 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000',
        // Its RTCP is named on loopback so that nothing is ever sent to the private address.
        `a=rtcp:${natted.port} IN IP4 127.0.0.1`, 'a=sendrecv', 'a=ssrc:1515847681 cname:phone', '',
      ].join('\r\n');
      const answer = await relay.answer({ callId, fromTag: 'browser-tag', toTag: 'phone-tag', sdp, signallingSource: '127.0.0.1' });
      await browser.acceptAnswer(answer.sdp);
      await browser.connected();
      const sending = setInterval(() => natted.send(relayPort), 20);
      cleanups.push(() => clearInterval(sending));
      await browser.audio.waitFor(10, 8000, 'browser ← phone behind NAT');
      browser.startSending();
      cleanups.push(() => browser.stopSending());
      await waitFor(() => natted.received >= 10, { timeoutMs: 8000, what: 'the phone behind NAT to get the browser\'s audio' });
    });

    it.skipIf(impl.name === 'rtpengine')('follows the phone\'s stream to a new port of the same address (NAT rebinding), but not another stream', async () => {
      const { browser } = await peers();
      const callId = newCallId();
      cleanups.push(() => relay.delete(callId));
      const SSRC = 0x0c0c0c0c;
      const phone = await rtpSender(SSRC, 30_000);
      const offer = await relay.offer({ callId, fromTag: 'browser-tag', sdp: await browser.createOffer(), to: 'rtp' });
      const relayPort = Number(/^m=audio (\d+)/m.exec(offer.sdp)![1]);
      const sdp = ['v=0', 'o=phone 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${phone.port} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', 'a=sendrecv', `a=ssrc:${SSRC} cname:phone`, ''].join('\r\n');
      const answer = await relay.answer({ callId, fromTag: 'browser-tag', toTag: 'phone-tag', sdp, signallingSource: '127.0.0.1' });
      await browser.acceptAnswer(answer.sdp);
      await browser.connected();
      const talking = setInterval(() => phone.send(relayPort), 20);
      await browser.audio.waitFor(5, 8000, 'browser ← phone').finally(() => clearInterval(talking));
      await browser.audio.waitFor(phone.sent, 8000, 'the last of the phone\'s packets');

      // Another stream from a new port of the same address: dropped, and it gets nothing.
      const intruder = await rtpSender(0x12345678);
      const b0 = browser.audio.received;
      for (let i = 0; i < 20; i++) intruder.send(relayPort);
      browser.startSending();
      cleanups.push(() => browser.stopSending());
      await waitFor(() => phone.received >= 20, { timeoutMs: 8000, what: 'browser audio at the phone' });
      expect(browser.audio.received).toBe(b0);
      expect(intruder.received).toBe(0);

      // The phone's own stream (its SSRC, its sequence) from a new port: followed, both ways.
      const rebound = await rtpSender(SSRC, phone.seq);
      const sending = setInterval(() => rebound.send(relayPort), 20);
      cleanups.push(() => clearInterval(sending));
      await browser.audio.waitFor(b0 + 10, 8000, 'browser ← phone after rebinding');
      await waitFor(() => rebound.received >= 10, { timeoutMs: 8000, what: 'the browser\'s audio at the phone\'s new port' });
      expect(intruder.received).toBe(0);
    });

    it('frees the ports of a deleted call, and delete is idempotent', async () => {
      const { browser, phone, callId, offer } = await browserCallsPhone();
      await audioBothWays(browser, phone, 3);
      const port = Number(/^m=audio (\d+)/m.exec(offer)![1]);
      await relay.delete(callId);
      await relay.delete(callId);
      await expect(relay.stats(callId)).rejects.toThrow();
      // rtpengine closes a deleted call's sockets on its own threads, just after answering:
      // the port must come free, not necessarily before the answer arrives.
      const probe = await waitFor(() => bindUdp(port), { timeoutMs: 2000, what: `port ${port} to be free` });
      cleanups.push(() => probe.close());
      if (relay instanceof InProcessRelay) expect(relay.portsInUse).toBe(0);
    });
  });
}

/** A UDP socket bound to `port` on 127.0.0.1, or undefined while the port is taken. */
async function bindUdp(port: number): Promise<Socket | undefined> {
  const socket = createSocket('udp4');
  try {
    socket.bind(port, '127.0.0.1');
    await once(socket, 'listening');
    return socket;
  } catch {
    socket.close();
    return undefined;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms))]);
}
