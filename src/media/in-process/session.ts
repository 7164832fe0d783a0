/**
 * One bridged call of the in-process relay: a WebRTC side (werift control plane, our data plane)
 * and a plain RTP/AVP side (a UDP port pair per media line), and the SDP conversions between them.
 *
 * Media lines are paired in order: the i-th bridged line of the plain SDP is the i-th m-line
 * (transceiver) of the WebRTC SDP. Lines the relay cannot bridge (a data channel, a codec with no
 * counterpart) are rejected with port 0 in the answer, as RFC 3264 §6 asks.
 *
 * Packets are forwarded untouched except for what each side must see: the payload type numbered as
 * the receiver declared it, and towards the browser the SSRC the WebRTC SDP announced (werift and
 * Chromium route by it), with sequence and timestamp kept continuous when the phone's source
 * changes. RTCP is relayed both ways with the same SSRC translation; its reports give RTT.
 */
import type { RemoteInfo } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { RTCRtpCodecParameters, type RTCRtpTransceiver } from 'werift';
import { describeCodecs, isMainCodec, pairAnswer } from '../codecs.ts';
import { bridgedLines, checkPlainMedia, checkWebRtcMedia } from '../offer-checks.ts';
import {
  attribute,
  attributes,
  connectionAddress,
  direction,
  isPlainRtpProto,
  parseSdp,
  rtpMaps,
  sends,
  writeSdp,
  type Direction,
  type RtpMap,
  type Sdp,
  type SdpMedia,
} from '../sdp.ts';
import { RelayError, type MediaProfile, type RelayLegStats } from '../types.ts';
import type { PortPair, PortPool } from './ports.ts';
import { ReceiveStats, RttProbe } from './rtp-stats.ts';
import { SRTCP_MAX_TRAILER, SRTP_MAX_TRAILER } from './srtp.ts';
import { WebRtcLeg, type WebRtcLegOptions } from './webrtc-leg.ts';

/**
 * How well a packet's source matches what signalling said about the plain side (security review
 * #2: the relay's ports face the internet, so "the first packet wins" lets anyone take a call).
 * 0: not at all (dropped); 1: from the address the phone's SIP messages came from, any port (a
 * phone behind NAT announces its private address); 2: exactly the address and port of its SDP.
 */
type SourceRank = 0 | 1 | 2;

/**
 * Where one plain-side flow (RTP or RTCP of a line) is expected from, and where it goes. Before
 * a packet has latched it, packets go to the SDP's address; after, to the latched source
 * (symmetric RTP, which is what gets through NAT).
 */
class PlainFlow {
  /** What the SDP named ('' for none yet, or c=0.0.0.0 on hold: send nothing). */
  sdpHost = '';
  sdpPort = 0;
  /** The plain side's SIP signalling source address, for NAT ('' when not known). */
  natHost = '';
  /** The latched source; rank 0 while nothing has latched. */
  host = '';
  port = 0;
  rank: SourceRank = 0;
  /** The SSRC last seen from the latched source (RTP: its stream; RTCP: the sender's). */
  ssrc = -1;

  /** Takes new expectations from an SDP; a different address forgets the latch. */
  expect(host: string, port: number, natHost: string): void {
    if (host !== this.sdpHost || port !== this.sdpPort || natHost !== this.natHost) {
      this.rank = 0;
      this.host = '';
      this.port = 0;
      this.ssrc = -1;
    }
    this.sdpHost = host;
    this.sdpPort = port;
    this.natHost = natHost;
  }

  private rankOf(address: string, port: number): SourceRank {
    if (this.sdpHost !== '' && address === this.sdpHost && port === this.sdpPort) return 2;
    // Behind NAT the SDP names another (private) address than the one the SIP came from. When
    // both are the same there is no NAT to allow for: exact matches only (an attacker on the
    // phone's own address, or spoofing it, must not take the line from another port).
    if (this.natHost !== '' && this.sdpHost !== '' && this.natHost !== this.sdpHost && address === this.natHost) return 1;
    return 0;
  }

  /**
   * Whether a packet from a source other than the latched one may be taken (and latches it):
   * the first packet from a source signalling names; an exact SDP match over a NAT guess; the
   * same stream (SSRC) from the same address on a new port (a NAT rebinding). Never anyone else.
   */
  accept(address: string, port: number, ssrc: number, alsoExact?: PlainFlow): boolean {
    let rank = this.rankOf(address, port);
    // RTCP may come from the very source the line's RTP latched to (a phone with one socket).
    if (alsoExact && alsoExact.rank > 0 && address === alsoExact.host && port === alsoExact.port) rank = Math.max(rank, alsoExact.rank) as SourceRank;
    const rebinding = this.rank > 0 && ssrc === this.ssrc && address === this.host;
    if (rank <= this.rank && !rebinding) return false;
    this.host = address;
    this.port = port;
    this.rank = rebinding ? this.rank : rank;
    this.ssrc = ssrc;
    return true;
  }

  /** Where to send: the latched source, else what the SDP named. */
  get toHost(): string {
    return this.rank > 0 ? this.host : this.sdpHost;
  }

  get toPort(): number {
    return this.rank > 0 ? this.port : this.sdpPort;
  }
}

/** One bridged media line. */
class MediaLine {
  /** The phone's RTP and RTCP: where they may come from and where they go. */
  readonly rtp = new PlainFlow();
  readonly rtcp = new PlainFlow();
  /** Payload type as received from one side → as the other side declared it. */
  readonly toPlainPt = identityPt();
  readonly toWebRtcPt = identityPt();
  /** RTP clock of each payload type, as each side sends it (for jitter). */
  readonly clockFromPlain = new Uint32Array(128);
  readonly clockFromWebRtc = new Uint32Array(128);
  /** The SSRC announced to the browser for what the relay sends on this line. */
  outSsrc = 0;
  /** The phone's current SSRC and the offsets that keep sequence and timestamp continuous. */
  inSsrc = -1;
  seqDelta = 0;
  tsDelta = 0;
  lastOutSeq = 0;
  lastOutTs = 0;
  /** The browser's SSRC on this line (learnt from its RTP). */
  webRtcSsrc = -1;
  readonly fromPlain = new ReceiveStats();
  readonly fromWebRtc = new ReceiveStats();
  /** Codecs as offered for this line (the offerer's numbering), kept for the answer. */
  offered: RtpMap[] = [];
  enabled = true;

  /**
   * Takes the codecs an answer chose: the side that answered (`answeredBy`) gets packets renumbered
   * from the offer's payload types to its own; both sides send with the offer's clock rates.
   */
  applyCodecs(pairs: readonly { offered: RtpMap; answered: RtpMap }[], answeredBy: 'plain' | 'webrtc'): void {
    this.enabled = pairs.length > 0;
    this.toPlainPt.set(identityPt());
    this.toWebRtcPt.set(identityPt());
    const renumber = answeredBy === 'plain' ? this.toPlainPt : this.toWebRtcPt;
    for (const { offered, answered } of pairs) {
      renumber[offered.payloadType] = answered.payloadType;
      this.clockFromPlain[offered.payloadType] = offered.clockRate;
      this.clockFromWebRtc[offered.payloadType] = offered.clockRate;
    }
  }

  constructor(
    readonly kind: string,
    readonly ports: PortPair,
  ) {}
}

function identityPt(): Uint8Array {
  const a = new Uint8Array(128);
  for (let i = 0; i < 128; i++) a[i] = i;
  return a;
}

interface PendingOffer {
  from: MediaProfile;
  fromTag: string;
  sdp: Sdp;
  /** Per bridged line: the index of its m-line in the offer. */
  offerIndex: number[];
  /** The SDP the relay produced for the answerer. */
  produced: Sdp;
}

export interface SessionOptions {
  address: string;
  webrtc: WebRtcLegOptions;
  pool: PortPool;
}

export class RelaySession {
  webrtcTag?: string;
  plainTag?: string;
  webrtc?: WebRtcLeg;
  lines: MediaLine[] = [];
  private pending?: PendingOffer;
  /** Per payload type of the browser's RTP: index of its line, -1 when unknown. */
  private readonly ptToLine = new Int8Array(128).fill(-1);
  private plainVersion = 0;
  private readonly plainSessionId = String(Math.floor(Math.random() * 2 ** 31));
  private readonly webrtcRtt = new RttProbe();
  private readonly plainRtt = new RttProbe();
  webrtcRttMs: number | null = null;
  plainRttMs: number | null = null;
  /** Whether each side's last negotiated direction lets it send (media timeout watches only those). */
  webrtcSends = false;
  plainSends = false;
  answered = false;
  closed = false;
  /** Serialises offer/answer/delete of this call. */
  queue: Promise<unknown> = Promise.resolve();
  /** Set once the WebRTC side failed (ICE failed, DTLS closed). */
  failure?: string;
  onFailure: (reason: string) => void = () => {};

  constructor(
    readonly callId: string,
    private readonly options: SessionOptions,
  ) {}

  // ------------------------------------------------------------------ offer

  /**
   * `signallingSource`: the address the offerer's SIP came from; for a plain offerer, its media
   * is also taken from that address (any port), for phones behind NAT.
   */
  async offer(fromTag: string, text: string, to: MediaProfile, signallingSource?: string): Promise<string> {
    const sdp = parseSdp(text);
    const from: MediaProfile = to === 'rtp' ? 'webrtc' : 'rtp';
    if (this.answered) {
      const expected = from === 'webrtc' ? this.webrtcTag : this.plainTag;
      if (fromTag !== expected) {
        throw new RelayError(`re-offer from tag ${fromTag} as ${from}, but the ${from} side of this call is ${expected ?? 'unknown'}`);
      }
    }
    const bridged = bridgedLines(sdp, from, 'offer');
    const offerIndex = bridged.map((b) => b.index);
    const codecs = bridged.map((b) => b.codecs);
    if (this.lines.length > 0 && offerIndex.length !== this.lines.length) {
      throw new RelayError(`re-offer has ${offerIndex.length} media lines where the call has ${this.lines.length}: adding or removing media is not supported`);
    }
    if (from === 'rtp' && this.lines.length === 0) {
      // Phones and trunks should send RTP/AVP; a bare c= is required to reach them.
      for (const i of offerIndex) if (!connectionAddress(sdp.media[i]!, sdp)) throw new RelayError(`m=${sdp.media[i]!.kind} has no c= address`);
    }

    if (this.lines.length === 0) await this.allocate(offerIndex.map((i) => sdp.media[i]!.kind));
    // A re-offer keeps each line's latch unless the plain side's SDP moves it (PlainFlow.expect).
    this.lines.forEach((line, j) => (line.offered = codecs[j]!));
    this.webrtc ??= this.createWebRtcLeg();

    let produced: Sdp;
    if (from === 'webrtc') {
      await this.setRemote({ type: 'offer', sdp: text });
      produced = this.plainOffer(sdp, offerIndex);
    } else {
      this.rememberPlainAddresses(sdp, offerIndex, signallingSource);
      produced = await this.webrtcOffer(sdp, offerIndex);
    }
    this.pending = { from, fromTag, sdp, offerIndex, produced };
    return writeSdp(produced);
  }

  private async allocate(kinds: string[]): Promise<void> {
    const lines: MediaLine[] = [];
    try {
      for (const kind of kinds) lines.push(new MediaLine(kind, await this.options.pool.bindPair()));
    } catch (e) {
      for (const l of lines) this.options.pool.release(l.ports);
      throw e;
    }
    this.lines = lines;
    lines.forEach((line) => {
      line.ports.rtp.on('message', (msg: Buffer, rinfo: RemoteInfo) => this.fromPlainRtp(line, msg, rinfo));
      line.ports.rtcp.on('message', (msg: Buffer, rinfo: RemoteInfo) => this.fromPlainRtcp(line, msg, rinfo));
    });
  }

  private createWebRtcLeg(): WebRtcLeg {
    const leg = new WebRtcLeg(this.options.webrtc);
    leg.onRtp = this.fromWebRtcRtp;
    leg.onRtcp = (buf, len) => this.fromWebRtcRtcp(buf, len);
    leg.onFailed = (reason) => {
      if (this.closed || this.failure) return;
      this.failure = reason;
      this.onFailure(reason);
    };
    return leg;
  }

  private async setRemote(description: { type: 'offer' | 'answer'; sdp: string }): Promise<void> {
    try {
      await this.webrtc!.pc.setRemoteDescription(description);
    } catch (e) {
      throw new RelayError(`WebRTC ${description.type} not accepted: ${(e as Error).message}`);
    }
  }

  /** The plain RTP/AVP offer for the phone, from a browser's offer. */
  private plainOffer(offer: Sdp, offerIndex: number[]): Sdp {
    const media = offerIndex.map((i, j) => {
      const m = offer.media[i]!;
      const line = this.lines[j]!;
      return plainMedia(m.kind, line.ports.port, line.offered, direction(m, offer), attribute(m, offer, 'ptime'), attribute(m, offer, 'maxptime'));
    });
    return { session: this.plainSession(), media };
  }

  private plainSession(): string[] {
    const a = this.options.address;
    const ip = a.includes(':') ? 'IP6' : 'IP4';
    return ['v=0', `o=- ${this.plainSessionId} ${++this.plainVersion} IN ${ip} ${a}`, 's=-', `c=IN ${ip} ${a}`, 't=0 0'];
  }

  /**
   * What the phone's SDP says about where its media comes from, and its SIP's source for NAT
   * (a re-INVITE that does not say keeps the one given before).
   */
  private rememberPlainAddresses(sdp: Sdp, indexes: number[], signallingSource?: string): void {
    indexes.forEach((i, j) => {
      const m = sdp.media[i]!;
      const line = this.lines[j]!;
      const nat = signallingSource ?? line.rtp.natHost;
      const named = connectionAddress(m, sdp) ?? line.rtp.sdpHost;
      // c=0.0.0.0 is the old way to say "hold": send nothing until told otherwise.
      const host = named === '0.0.0.0' ? '' : named;
      line.rtp.expect(host, m.port, nat);
      const rtcp = /^(\d{1,5})(?: IN IP[46] (\S+))?/.exec(attribute(m, sdp, 'rtcp') ?? '');
      line.rtcp.expect(rtcp?.[2] ?? host, rtcp ? Number(rtcp[1]) : m.port + 1, nat);
    });
  }

  /** The WebRTC offer for the browser, from a phone's offer: werift makes it (ICE, DTLS). */
  private async webrtcOffer(offer: Sdp, offerIndex: number[]): Promise<Sdp> {
    const pc = this.webrtc!.pc;
    const existing = pc.getTransceivers();
    offerIndex.forEach((i, j) => {
      const m = offer.media[i]!;
      const line = this.lines[j]!;
      const dir = direction(m, offer);
      const t = existing[j] ?? pc.addTransceiver(m.kind as 'audio' | 'video', { direction: dir });
      t.setDirection(dir);
      t.codecs = line.offered.map((c) => toWeriftCodec(m.kind, c));
    });
    try {
      await pc.setLocalDescription(await pc.createOffer());
    } catch (e) {
      throw new RelayError(`could not make a WebRTC offer: ${(e as Error).message}`, 500);
    }
    return parseSdp(await this.webrtc!.localSdp());
  }

  // ------------------------------------------------------------------ answer

  /** `signallingSource`: the address the answerer's SIP came from (see offer()). */
  async answer(fromTag: string, toTag: string, text: string, signallingSource?: string): Promise<string> {
    const pending = this.pending;
    if (!pending) throw new RelayError(`no offer is waiting for an answer in call ${this.callId}`, 500);
    if (pending.fromTag !== fromTag) throw new RelayError(`answer for tag ${fromTag}, but the offer came from ${pending.fromTag}`, 500);
    const sdp = parseSdp(text);
    if (sdp.media.length !== pending.produced.media.length) {
      throw new RelayError(`the answer has ${sdp.media.length} media lines for an offer of ${pending.produced.media.length}`);
    }
    const result = pending.from === 'webrtc' ? await this.answerToWebRtc(pending, sdp, signallingSource) : await this.answerToPlain(pending, sdp, text);
    if (pending.from === 'webrtc') {
      this.webrtcTag = fromTag;
      this.plainTag = toTag;
    } else {
      this.plainTag = fromTag;
      this.webrtcTag = toTag;
    }
    // No latching anew here: packets latch only from the source the answerer's SDP names, so
    // early media from another fork (or anyone else) never took the line.
    this.pending = undefined;
    this.answered = true;
    // Media may pause across a renegotiation: give both sides a fresh media timeout.
    const now = performance.now();
    for (const l of this.lines) {
      if (l.fromPlain.lastAt) l.fromPlain.lastAt = Math.max(l.fromPlain.lastAt, now);
      if (l.fromWebRtc.lastAt) l.fromWebRtc.lastAt = Math.max(l.fromWebRtc.lastAt, now);
    }
    return result;
  }

  /** The phone answered a browser's offer: returns the WebRTC answer for the browser. */
  private async answerToWebRtc(pending: PendingOffer, answer: Sdp, signallingSource?: string): Promise<string> {
    const pc = this.webrtc!.pc;
    const transceivers = pc.getTransceivers();
    const plan: { line: MediaLine; t: RTCRtpTransceiver; dir: Direction; pairs: ReturnType<typeof pairAnswer> }[] = [];
    answer.media.forEach((m, j) => {
      const line = this.lines[j]!;
      const t = transceiverFor(transceivers, pending.sdp.media[pending.offerIndex[j]!]!, pending.offerIndex[j]!);
      if (!t) throw new RelayError(`WebRTC offer line ${j} has no transceiver`, 500);
      if (m.port === 0) {
        plan.push({ line, t, dir: 'inactive', pairs: [] });
        return;
      }
      checkPlainMedia(m);
      const pairs = pairAnswer(line.offered, rtpMaps(m));
      if (!pairs.some((p) => isMainCodec(p.answered))) {
        throw new RelayError(`the answer's m=${m.kind} chose no offered codec (offered ${describeCodecs(line.offered)})`);
      }
      plan.push({ line, t, dir: direction(m, answer), pairs });
    });
    if (plan.every((p) => p.pairs.length === 0)) throw new RelayError('the answer rejected every media line');
    this.rememberPlainAddresses(answer, answer.media.map((_, j) => j), signallingSource);

    this.ptToLine.fill(-1);
    for (const { line, t, dir, pairs } of plan) {
      // The browser sends with its own numbers (the offer's); the phone wants its own. The phone
      // sends with the numbers of the relay's offer, which are the browser's.
      line.applyCodecs(pairs, 'plain');
      for (const { offered } of pairs) this.ptToLine[offered.payloadType] = this.lines.indexOf(line);
      const keep = new Set(pairs.map((p) => p.offered.payloadType));
      if (keep.size > 0) t.codecs = t.codecs.filter((c) => keep.has(c.payloadType));
      t.setDirection(dir);
    }
    try {
      await pc.setLocalDescription(await pc.createAnswer());
    } catch (e) {
      throw new RelayError(`could not make the WebRTC answer: ${(e as Error).message}`, 500);
    }
    const sdp = await this.webrtc!.localSdp();
    plan.forEach(({ line, t }) => (line.outSsrc = t.sender.ssrc));
    const offerDirs = pending.offerIndex.map((i) => direction(pending.sdp.media[i]!, pending.sdp));
    this.webrtcSends = plan.some((p, j) => p.line.enabled && sends(offerDirs[j]!) && (p.dir === 'sendrecv' || p.dir === 'recvonly'));
    this.plainSends = plan.some((p) => p.line.enabled && sends(p.dir));
    return sdp;
  }

  /** The browser answered a phone's offer: returns the plain RTP/AVP answer for the phone. */
  private async answerToPlain(pending: PendingOffer, answer: Sdp, text: string): Promise<string> {
    const plan: { line: MediaLine; dir: Direction; pairs: ReturnType<typeof pairAnswer> }[] = [];
    answer.media.forEach((m, j) => {
      const line = this.lines[j]!;
      if (m.port === 0) {
        plan.push({ line, dir: 'inactive', pairs: [] });
        return;
      }
      checkWebRtcMedia(m, answer, 'answer');
      const pairs = pairAnswer(line.offered, rtpMaps(m));
      if (!pairs.some((p) => isMainCodec(p.answered))) {
        throw new RelayError(`the WebRTC answer's m=${m.kind} chose no offered codec (offered ${describeCodecs(line.offered)})`);
      }
      plan.push({ line, dir: direction(m, answer), pairs });
    });
    if (plan.every((p) => p.pairs.length === 0)) throw new RelayError('the answer rejected every media line');
    await this.setRemote({ type: 'answer', sdp: text });

    const transceivers = this.webrtc!.pc.getTransceivers();
    this.ptToLine.fill(-1);
    plan.forEach(({ line, pairs }, j) => {
      // The browser sends with the numbers of the relay's offer, which are the phone's.
      line.applyCodecs(pairs, 'webrtc');
      for (const { offered } of pairs) this.ptToLine[offered.payloadType] = j;
      line.outSsrc = transceivers[j]!.sender.ssrc;
    });

    // The plain answer: every m-line of the phone's offer, in order; unbridged ones rejected.
    const offer = pending.sdp;
    const media: SdpMedia[] = offer.media.map((m, i) => {
      const j = pending.offerIndex.indexOf(i);
      const p = j >= 0 ? plan[j] : undefined;
      if (!p || p.pairs.length === 0) return { kind: m.kind, port: 0, proto: m.proto, formats: m.formats, lines: [] };
      const codecs = p.pairs.map((x) => x.offered);
      return plainMedia(m.kind, p.line.ports.port, codecs, p.dir, attribute(m, offer, 'ptime'), attribute(m, offer, 'maxptime'), m.proto);
    });
    const offerDirs = pending.offerIndex.map((i) => direction(offer.media[i]!, offer));
    this.plainSends = plan.some((p, j) => p.line.enabled && sends(offerDirs[j]!) && (p.dir === 'sendrecv' || p.dir === 'recvonly'));
    this.webrtcSends = plan.some((p) => p.line.enabled && sends(p.dir));
    return writeSdp({ session: this.plainSession(), media });
  }

  // ------------------------------------------------------------------ data plane (hot paths)

  private fromPlainRtp(line: MediaLine, msg: Buffer, rinfo: RemoteInfo): void {
    const len = msg.length;
    if (len < 12 || msg[0]! >> 6 !== 2) return;
    const ssrc = msg.readUInt32BE(8);
    const flow = line.rtp;
    // Only from the latched source, or a source signalling names (PlainFlow.accept).
    if (rinfo.port === flow.port && rinfo.address === flow.host && flow.rank > 0) flow.ssrc = ssrc;
    else if (!flow.accept(rinfo.address, rinfo.port, ssrc)) return;
    const pt = msg[1]! & 0x7f;
    const seq = (msg[2]! << 8) | msg[3]!;
    const ts = msg.readUInt32BE(4);
    line.fromPlain.onPacket(ssrc, seq, ts, line.clockFromPlain[pt]!, performance.now());
    const webrtc = this.webrtc;
    if (!webrtc || !webrtc.ready || !line.enabled) return;
    if (ssrc !== line.inSsrc) {
      // A new source (another phone, a re-INVITE): continue the browser's stream without a jump.
      if (line.inSsrc !== -1) {
        line.seqDelta = (line.lastOutSeq + 1 - seq) & 0xffff;
        line.tsDelta = (line.lastOutTs + 1 - ts) >>> 0;
      }
      line.inSsrc = ssrc;
    }
    const out = Buffer.allocUnsafe(len + SRTP_MAX_TRAILER);
    msg.copy(out, 0, 0, len);
    out[1] = (msg[1]! & 0x80) | line.toWebRtcPt[pt]!;
    const outSeq = (seq + line.seqDelta) & 0xffff;
    const outTs = (ts + line.tsDelta) >>> 0;
    out[2] = outSeq >> 8;
    out[3] = outSeq & 0xff;
    out.writeUInt32BE(outTs, 4);
    out.writeUInt32BE(line.outSsrc, 8);
    line.lastOutSeq = outSeq;
    line.lastOutTs = outTs;
    if (webrtc.sendRtp(out, len)) line.fromWebRtc.packetsSent++;
  }

  private readonly fromWebRtcRtp = (buf: Buffer, len: number): void => {
    const pt = buf[1]! & 0x7f;
    let index = this.ptToLine[pt]!;
    if (index < 0) {
      if (this.lines.length !== 1) return;
      index = 0;
    }
    const line = this.lines[index]!;
    const ssrc = buf.readUInt32BE(8);
    line.webRtcSsrc = ssrc;
    line.fromWebRtc.onPacket(ssrc, (buf[2]! << 8) | buf[3]!, buf.readUInt32BE(4), line.clockFromWebRtc[pt]!, performance.now());
    const host = line.rtp.toHost;
    const port = line.rtp.toPort;
    if (!port || !host || !line.enabled) return;
    buf[1] = (buf[1]! & 0x80) | line.toPlainPt[pt]!;
    line.ports.rtp.send(buf, 0, len, port, host);
    line.fromPlain.packetsSent++;
  };

  // ------------------------------------------------------------------ RTCP (a few packets a second)

  private fromPlainRtcp(line: MediaLine, msg: Buffer, rinfo: RemoteInfo): void {
    if (msg.length < 8 || msg[0]! >> 6 !== 2) return;
    // The same rule as RTP: RTCP (BYE, PLI/FIR, REMB …) only from where signalling says.
    const sender = msg.readUInt32BE(4);
    const flow = line.rtcp;
    if (rinfo.port === flow.port && rinfo.address === flow.host && flow.rank > 0) flow.ssrc = sender;
    else if (!flow.accept(rinfo.address, rinfo.port, sender, line.rtp)) return;
    const webrtc = this.webrtc;
    if (!webrtc?.ready) return;
    const out = Buffer.alloc(msg.length + SRTCP_MAX_TRAILER);
    msg.copy(out);
    const now = performance.now();
    forEachRtcp(out, msg.length, (type, off, end) => {
      if (type === 200 || type === 201 || type === 202 || type === 203 || type === 205 || type === 206) {
        if (off + 8 <= end && out.readUInt32BE(off + 4) === line.inSsrc) out.writeUInt32BE(line.outSsrc, off + 4);
      }
      if (type === 200 && off + 28 <= end) this.webrtcRtt.srForwarded(out.readUInt32BE(off + 10), now);
      for (const b of reportBlocks(type, off, end, out)) {
        const rtt = this.plainRtt.rrReceived(out.readUInt32BE(b + 16), out.readUInt32BE(b + 20), now);
        if (rtt !== null) this.plainRttMs = rtt;
      }
    });
    webrtc.sendRtcp(out, msg.length);
  }

  private fromWebRtcRtcp(buf: Buffer, len: number): void {
    const now = performance.now();
    let line: MediaLine | undefined;
    forEachRtcp(buf, len, (type, off, end) => {
      if (off + 8 > end) return;
      const sender = buf.readUInt32BE(off + 4);
      line ??= this.lines.find((l) => l.webRtcSsrc === sender);
      if (type === 200 && off + 28 <= end) this.plainRtt.srForwarded(buf.readUInt32BE(off + 10), now);
      for (const b of reportBlocks(type, off, end, buf)) {
        const about = buf.readUInt32BE(b);
        const target = this.lines.find((l) => l.outSsrc === about);
        if (target && target.inSsrc !== -1) buf.writeUInt32BE(target.inSsrc >>> 0, b);
        const rtt = this.webrtcRtt.rrReceived(buf.readUInt32BE(b + 16), buf.readUInt32BE(b + 20), now);
        if (rtt !== null) this.webrtcRttMs = rtt;
      }
      if ((type === 205 || type === 206) && off + 12 <= end) {
        const media = buf.readUInt32BE(off + 8);
        const target = this.lines.find((l) => l.outSsrc === media);
        if (target && target.inSsrc !== -1) buf.writeUInt32BE(target.inSsrc >>> 0, off + 8);
      }
    });
    line ??= this.lines[0];
    if (!line || !line.rtcp.toHost || !line.rtcp.toPort) return;
    line.ports.rtcp.send(buf, 0, len, line.rtcp.toPort, line.rtcp.toHost);
  }

  // ------------------------------------------------------------------ figures, end

  stats(): RelayLegStats[] {
    const side = (tag: string | undefined, pick: (l: MediaLine) => ReceiveStats, rtt: number | null): RelayLegStats => {
      let packetsReceived = 0;
      let packetsSent = 0;
      let packetsLost = 0;
      let jitterMs: number | null = null;
      for (const l of this.lines) {
        const s = pick(l);
        packetsReceived += s.packets;
        packetsSent += s.packetsSent;
        packetsLost += s.lost;
        jitterMs ??= s.jitterMs;
      }
      return { tag: tag ?? '', packetsReceived, packetsSent, packetsLost, jitterMs, rttMs: rtt };
    };
    return [side(this.webrtcTag ?? this.pending?.fromTag, (l) => l.fromWebRtc, this.webrtcRttMs), side(this.plainTag, (l) => l.fromPlain, this.plainRttMs)];
  }

  /** ms since the last packet from a side that should be sending, or 0 when nothing to watch. */
  silentFor(now: number): number {
    let worst = 0;
    for (const l of this.lines) {
      if (this.webrtcSends && l.fromWebRtc.lastAt) worst = Math.max(worst, now - l.fromWebRtc.lastAt);
      if (this.plainSends && l.fromPlain.lastAt) worst = Math.max(worst, now - l.fromPlain.lastAt);
    }
    return worst;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const l of this.lines) this.options.pool.release(l.ports);
    await this.webrtc?.close();
  }
}

// ------------------------------------------------------------------ helpers

function plainMedia(kind: string, port: number, codecs: RtpMap[], dir: Direction, ptime?: string, maxptime?: string, proto = 'RTP/AVP'): SdpMedia {
  const lines: string[] = [];
  for (const c of codecs) {
    lines.push(`a=rtpmap:${c.payloadType} ${c.name}/${c.clockRate}${c.channels > 1 ? `/${c.channels}` : ''}`);
    if (c.fmtp) lines.push(`a=fmtp:${c.payloadType} ${c.fmtp}`);
  }
  if (ptime && /^\d{1,4}$/.test(ptime)) lines.push(`a=ptime:${ptime}`);
  if (maxptime && /^\d{1,4}$/.test(maxptime)) lines.push(`a=maxptime:${maxptime}`);
  lines.push(`a=${dir}`);
  return { kind, port, proto: isPlainRtpProto(proto) ? proto : 'RTP/AVP', formats: codecs.map((c) => String(c.payloadType)), lines };
}

function toWeriftCodec(kind: string, c: RtpMap): RTCRtpCodecParameters {
  const video = kind === 'video';
  return new RTCRtpCodecParameters({
    mimeType: `${kind}/${c.name}`,
    clockRate: c.clockRate,
    channels: c.channels > 1 ? c.channels : undefined,
    payloadType: c.payloadType,
    parameters: c.fmtp,
    rtcpFeedback: video ? [{ type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }] : [],
  });
}

function transceiverFor(transceivers: RTCRtpTransceiver[], m: SdpMedia, index: number): RTCRtpTransceiver | undefined {
  const mid = attributes(m.lines, 'mid')[0];
  return (mid !== undefined ? transceivers.find((t) => t.mid === mid) : undefined) ?? transceivers.find((t) => t.mLineIndex === index);
}

/** Calls fn(type, offset, end) for each packet of an RTCP compound packet in buf[0, len). */
function forEachRtcp(buf: Buffer, len: number, fn: (type: number, off: number, end: number) => void): void {
  let off = 0;
  while (off + 4 <= len) {
    if (buf[off]! >> 6 !== 2) return;
    const end = off + 4 + 4 * buf.readUInt16BE(off + 2);
    if (end > len) return;
    fn(buf[off + 1]!, off, end);
    off = end;
  }
}

/** Offsets of the report blocks of an SR (200) or RR (201). */
function reportBlocks(type: number, off: number, end: number, buf: Buffer): number[] {
  if (type !== 200 && type !== 201) return [];
  const count = buf[off]! & 0x1f;
  const first = off + (type === 200 ? 28 : 8);
  const out: number[] = [];
  for (let i = 0; i < count && first + 24 * (i + 1) <= end; i++) out.push(first + 24 * i);
  return out;
}
