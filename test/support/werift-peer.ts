/**
 * The two ends of a bridged call, for media tests and benchmarks on loopback:
 *
 * - `WeriftPeer` plays the browser: a werift peer connection (ICE, DTLS-SRTP, rtcp-mux) that makes
 *   or answers WebRTC offers, sends PCMU (20 ms packets) and counts the RTP it receives.
 * - `RtpPeer` plays the phone: a plain UDP socket speaking RTP/AVP, with the same counters.
 *
 * Both keep only 127.0.0.1 candidates and addresses (see shared/reference/webrtc-sip-notes.md),
 * and both can stamp packets with the wall-clock send time so a receiver measures one-way delay.
 */
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { MediaStreamTrack, RTCPeerConnection, RTCRtpCodecParameters, RtpHeader, RtpPacket, type RTCRtpTransceiver } from 'werift';

const LOOPBACK = '127.0.0.1';

/** Wall-clock milliseconds with sub-ms precision, comparable across processes on one machine. */
export function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Counts received RTP; resolves waiters when a count is reached. */
class Counter {
  received = 0;
  payloadTypes = new Set<number>();
  /** One-way delays (ms) of stamped packets, when `collectDelays` is on. */
  delays: number[] = [];
  collectDelays = false;
  private waiters: { n: number; resolve: () => void }[] = [];

  hit(pt: number, payload: Buffer | undefined): void {
    this.received++;
    this.payloadTypes.add(pt);
    if (this.collectDelays && payload && payload.length >= 12 && payload.readUInt32BE(0) === STAMP_MAGIC) {
      this.delays.push(wallMs() - payload.readDoubleBE(4));
    }
    if (this.waiters.length) {
      this.waiters = this.waiters.filter((w) => {
        if (this.received < w.n) return true;
        w.resolve();
        return false;
      });
    }
  }

  /** Resolves once `n` packets in total have arrived; rejects after the timeout. */
  waitFor(n: number, timeoutMs: number, what: string): Promise<void> {
    if (this.received >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${what}: ${this.received} of ${n} RTP packets after ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        n,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }
}

const STAMP_MAGIC = 0x52494e47; // "RING"

/** A 160-byte PCMU payload (silence), stamped with the send time when asked. */
function pcmuPayload(stamp: boolean): Buffer {
  const payload = Buffer.alloc(160, 0xff);
  if (stamp) {
    payload.writeUInt32BE(STAMP_MAGIC, 0);
    payload.writeDoubleBE(wallMs(), 4);
  }
  return payload;
}

export interface WeriftPeerOptions {
  /**
   * DTLS role when answering: `client` (a=setup:active, what werift and Chromium pick) or `server`
   * (a=setup:passive). werift as DTLS client completes its handshake with rtpengine's OpenSSL
   * only now and then (the client's last flight goes unanswered), so tests with rtpengine answer
   * as the server.
   */
  answerDtlsRole?: 'client' | 'server';
  /** Add a video transceiver to offers (VP8). */
  video?: boolean;
  /** Audio codecs this browser supports (default opus, PCMU, PCMA). */
  audioCodecs?: ('opus' | 'PCMU' | 'PCMA' | 'G722')[];
}

const AUDIO: Record<string, () => RTCRtpCodecParameters> = {
  opus: () => new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2, payloadType: 111 }),
  PCMU: () => new RTCRtpCodecParameters({ mimeType: 'audio/PCMU', clockRate: 8000, payloadType: 0 }),
  PCMA: () => new RTCRtpCodecParameters({ mimeType: 'audio/PCMA', clockRate: 8000, payloadType: 8 }),
  G722: () => new RTCRtpCodecParameters({ mimeType: 'audio/G722', clockRate: 8000, payloadType: 9 }),
};

export class WeriftPeer {
  readonly pc: RTCPeerConnection;
  readonly audio = new Counter();
  private readonly track = new MediaStreamTrack({ kind: 'audio' });
  private timer?: NodeJS.Timeout;
  private seq = Math.floor(Math.random() * 65535);
  private timestamp = 0;
  sent = 0;

  constructor(private readonly options: WeriftPeerOptions = {}) {
    this.pc = new RTCPeerConnection({
      codecs: {
        audio: (options.audioCodecs ?? ['opus', 'PCMU', 'PCMA']).map((c) => AUDIO[c]!()),
        video: [new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90000, payloadType: 96 })],
      },
      bundlePolicy: 'max-bundle',
      iceUseIpv6: false,
      iceInterfaceAddresses: { udp4: LOOPBACK },
      iceAdditionalHostAddresses: [LOOPBACK],
      iceFilterCandidatePair: (pair: { localCandidate: { host: string }; remoteCandidate: { host: string } }) =>
        pair.localCandidate.host === LOOPBACK && pair.remoteCandidate.host === LOOPBACK,
    } as never);
    this.pc.onTrack.subscribe((track) => {
      if (track.kind !== 'audio') return;
      track.onReceiveRtp.subscribe((rtp) => this.audio.hit(rtp.header.payloadType, rtp.payload));
    });
  }

  private get audioTransceiver(): RTCRtpTransceiver | undefined {
    return this.pc.getTransceivers().find((t) => t.kind === 'audio');
  }

  /** A complete (non-trickle) offer, as JsSIP sends it. */
  async createOffer(): Promise<string> {
    this.pc.addTransceiver(this.track, { direction: 'sendrecv' });
    if (this.options.video) this.pc.addTransceiver('video', { direction: 'sendrecv' });
    await this.pc.setLocalDescription(await this.pc.createOffer());
    return this.localSdp();
  }

  async acceptAnswer(sdp: string): Promise<void> {
    await this.pc.setRemoteDescription({ type: 'answer', sdp });
  }

  /** Answers an offer (sendrecv, as the notes advise: werift otherwise answers recvonly). */
  async answer(offer: string): Promise<string> {
    await this.pc.setRemoteDescription({ type: 'offer', sdp: offer });
    if (this.options.answerDtlsRole) for (const d of this.pc.dtlsTransports) if (d.state === 'new') d.role = this.options.answerDtlsRole;
    const t = this.audioTransceiver;
    if (t && !t.sender.track) {
      t.sender.registerTrack(this.track);
      t.setDirection('sendrecv');
    }
    await this.pc.setLocalDescription(await this.pc.createAnswer());
    return this.localSdp();
  }

  /** A re-offer with another direction (hold: sendonly / inactive; resume: sendrecv). */
  async reoffer(direction: 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive'): Promise<string> {
    this.audioTransceiver!.setDirection(direction);
    await this.pc.setLocalDescription(await this.pc.createOffer());
    return this.localSdp();
  }

  async connected(timeoutMs = 10_000): Promise<void> {
    if (this.pc.connectionState === 'connected') return;
    await this.pc.connectionStateChange.watch((s) => s === 'connected', timeoutMs);
  }

  private async localSdp(): Promise<string> {
    if (this.pc.iceGatheringState !== 'complete') await this.pc.iceGatheringStateChange.watch((s) => s === 'complete', 10_000);
    // werift writes port 0 on inactive sections, which means "rejected"; Chromium writes 9.
    return loopbackOnly(this.pc.localDescription!.sdp).replace(/^m=(audio|video) 0 /gm, 'm=$1 9 ');
  }

  /** Sends one PCMU packet of 20 ms. */
  sendPacket(stamp = false): void {
    this.seq = (this.seq + 1) & 0xffff;
    this.timestamp = (this.timestamp + 160) >>> 0;
    const header = new RtpHeader({ payloadType: 0, sequenceNumber: this.seq, timestamp: this.timestamp, marker: false, ssrc: 0 });
    this.track.writeRtp(new RtpPacket(header, pcmuPayload(stamp)));
    this.sent++;
  }

  /** Sends PCMU every 20 ms until `stopSending()`. */
  startSending(stamp = false): void {
    this.stopSending();
    this.timer = setInterval(() => this.sendPacket(stamp), 20);
  }

  stopSending(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  async close(): Promise<void> {
    this.stopSending();
    await this.pc.close().catch(() => {});
  }
}

/** Drops every ICE candidate that is not on 127.0.0.1 (werift may list other interfaces). */
export function loopbackOnly(sdp: string): string {
  return sdp
    .split('\r\n')
    .filter((l) => !l.startsWith('a=candidate:') || l.split(' ')[4] === LOOPBACK)
    .join('\r\n');
}

/**
 * A plain RTP endpoint (what a desk phone's media stack does): one UDP socket on 127.0.0.1, its
 * SDP offer or answer, PCMU every 20 ms to wherever the other side's SDP says.
 */
export class RtpPeer {
  readonly socket: Socket;
  readonly audio = new Counter();
  remote?: { host: string; port: number };
  sent = 0;
  private timer?: NodeJS.Timeout;
  private seq = Math.floor(Math.random() * 65535);
  private timestamp = 0;
  readonly ssrc = (Math.random() * 2 ** 32) >>> 0;
  private readonly packet = Buffer.alloc(12 + 160, 0xff);

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('message', (msg) => {
      if (msg.length < 12 || msg[0]! >> 6 !== 2) return;
      this.audio.hit(msg[1]! & 0x7f, msg.subarray(12));
    });
  }

  static async open(): Promise<RtpPeer> {
    const socket = createSocket('udp4');
    socket.bind(0, LOOPBACK);
    await once(socket, 'listening');
    return new RtpPeer(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** An RTP/AVP offer (or answer) for audio with the given payload types, PCMU first by default. */
  sdp(options: { codecs?: string[]; direction?: string; video?: boolean } = {}): string {
    const codecs = options.codecs ?? ['0 PCMU/8000', '8 PCMA/8000', '101 telephone-event/8000'];
    const lines = [
      'v=0',
      `o=phone ${this.ssrc} 1 IN IP4 ${LOOPBACK}`,
      's=call',
      `c=IN IP4 ${LOOPBACK}`,
      't=0 0',
      `m=audio ${this.port} RTP/AVP ${codecs.map((c) => c.split(' ')[0]).join(' ')}`,
      ...codecs.map((c) => `a=rtpmap:${c}`),
      'a=ptime:20',
      `a=${options.direction ?? 'sendrecv'}`,
      // werift (as the browser) drops RTP whose SSRC no SDP announced; real phones rarely send
      // a=ssrc, and the in-process relay does not need it, but a relay that keeps SSRCs does.
      `a=ssrc:${this.ssrc} cname:phone`,
    ];
    if (options.video) lines.push(`m=video ${this.port + 2} RTP/AVP 96`, 'a=rtpmap:96 VP8/90000', 'a=sendrecv');
    return `${lines.join('\r\n')}\r\n`;
  }

  /** Takes the address of the other side's SDP (its first audio line). */
  useRemote(sdp: string): void {
    const host = /^c=IN IP4 (\S+)/m.exec(sdp)?.[1];
    const port = /^m=audio (\d+)/m.exec(sdp)?.[1];
    if (!host || !port) throw new Error(`no audio address in SDP:\n${sdp}`);
    this.remote = { host, port: Number(port) };
  }

  sendPacket(stamp = false, payloadType = 0): void {
    if (!this.remote) throw new Error('RtpPeer has no remote address yet');
    const p = this.packet;
    this.seq = (this.seq + 1) & 0xffff;
    this.timestamp = (this.timestamp + 160) >>> 0;
    p[0] = 0x80;
    p[1] = payloadType;
    p.writeUInt16BE(this.seq, 2);
    p.writeUInt32BE(this.timestamp, 4);
    p.writeUInt32BE(this.ssrc, 8);
    if (stamp) {
      p.writeUInt32BE(STAMP_MAGIC, 12);
      p.writeDoubleBE(wallMs(), 16);
    }
    this.socket.send(Buffer.from(p), this.remote.port, this.remote.host);
    this.sent++;
  }

  startSending(stamp = false): void {
    this.stopSending();
    this.timer = setInterval(() => this.sendPacket(stamp), 20);
  }

  stopSending(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** An RTCP sender report (RFC 3550 §6.4.1) to the other side's RTCP port (RTP port + 1). */
  sendSenderReport(): void {
    if (!this.remote) throw new Error('RtpPeer has no remote address yet');
    const sr = Buffer.alloc(28);
    sr[0] = 0x80;
    sr[1] = 200;
    sr.writeUInt16BE(6, 2);
    sr.writeUInt32BE(this.ssrc, 4);
    const ms = wallMs();
    sr.writeUInt32BE(Math.floor(ms / 1000) + 2208988800, 8); // NTP seconds since 1900
    sr.writeUInt32BE(Math.floor(((ms % 1000) / 1000) * 2 ** 32), 12);
    sr.writeUInt32BE(this.timestamp, 16);
    sr.writeUInt32BE(this.sent, 20);
    sr.writeUInt32BE(this.sent * 160, 24);
    this.socket.send(sr, this.remote.port + 1, this.remote.host);
  }

  close(): void {
    this.stopSending();
    this.socket.close();
  }
}
