/**
 * The media relay as a running rtpengine (the scale path), driven over its ng control protocol.
 *
 * One relay session = one rtpengine call (call-id) with two monologues, the offerer's from-tag and
 * the answerer's to-tag. The flags per direction (webrtc-sip-notes.md, checked with 10.5):
 *
 * | step | SDP for | transport-protocol | ICE | rtcp-mux | DTLS / SDES |
 * |---|---|---|---|---|---|
 * | offer, browser → phone | phone | RTP/AVP | remove | demux | — |
 * | answer, phone → browser | browser | UDP/TLS/RTP/SAVPF | force | require | DTLS active, SDES off |
 * | offer, phone → browser | browser | UDP/TLS/RTP/SAVPF | force | offer, require | SDES off (DTLS actpass) |
 * | answer, browser → phone | phone | RTP/AVP | remove | demux | — |
 *
 * plus `replace: [origin, session-connection]` so the SDP names rtpengine, not the far end, and,
 * with the plain side's SDP, the media source rules of the in-process relay (security review #2,
 * S2): `strict-source` (packets from any other source than the endpoint are dropped, RTCP
 * included), no endpoint learning (`endpoint-learning-off`: the endpoint is what the SDP says;
 * rtpengine otherwise learns it from whoever sends first, and keeps forwarding anyone's packets
 * on a stream the phone never sends on, such as its RTCP) and no `media-handover` (which would
 * follow any new source). A plain side behind NAT (a private c= address, signalled from a public
 * one) gets `SIP-source-address` with `received-from` (its media address is the signalling
 * source) and heuristic learning (the signalling address on any port wins over other sources).
 * Not on the WebRTC side: its endpoint is what ICE selected, and DTLS-SRTP authenticates it.
 *
 * DTLS active in the answer to a browser (the notes had passive, which Chromium accepts too):
 * RFC 5763 §5 says the answerer SHOULD take the active role, and with rtpengine as the DTLS client
 * the handshake starts as soon as its ICE completes. It also sidesteps a werift weakness: werift as
 * DTLS client against rtpengine's OpenSSL stalls in about a third of handshakes (its last flight
 * goes unanswered), while werift as server never did in our runs.
 * Before rtpengine sees an SDP, the same checks as the in-process relay run (offer-checks.ts) and
 * codecs the relay does not bridge are stripped, so rtpengine never needs to transcode.
 */
import { isIP } from 'node:net';
import { describeCodecs, isMainCodec, pairAnswer } from '../codecs.ts';
import { bridgedLines, keepOnlyBridged, type BridgedLine } from '../offer-checks.ts';
import { connectionAddress, direction, parseSdp, rtpMaps, sends, writeSdp, type Sdp } from '../sdp.ts';
import { RelayError, type MediaProfile, type MediaRelay, type RelayAnswer, type RelayedSdp, type RelayLegStats, type RelayOffer } from '../types.ts';
import type { BencodeValue } from './bencode.ts';
import { NgClient, NgError, type NgDict } from './ng-client.ts';

export interface RtpengineRelayOptions {
  /** rtpengine's --listen-ng address, `host:port`. */
  ng: string;
  /** Silence after which `onMediaTimeout` fires (default 30 s). Checked by polling `query`. */
  mediaTimeoutMs?: number;
  /** Per-attempt ng timeout (default 1000 ms); three attempts. */
  timeoutMs?: number;
}

interface Call {
  webrtcTag?: string;
  plainTag?: string;
  pending?: { fromTag: string; from: MediaProfile; lines: BridgedLine[]; sdp: Sdp };
  answered: boolean;
  /** Per tag: whether its side's negotiated direction lets it send. */
  sends: Map<string, boolean>;
  /** ms timestamp of the last negotiation (silence is counted from no earlier than this). */
  negotiatedAt: number;
  timedOut: boolean;
  /** Per tag: rtpengine's packet count at the last poll, and when media last flowed. */
  seen: Map<string, { packets: number; at: number; mediaAt: number }>;
}

/** Packet rate above which a side's stream is media and not just its RTCP. */
const MEDIA_PACKETS_PER_S = 5;

/** Where the plain side's media may come from (see above), as rtpengine 10.5 reads them. */
const SOURCE_FLAGS: NgDict = {
  flags: ['strict-source', 'endpoint-learning-off'],
};

const FLAGS_TO_RTP: NgDict = {
  'transport-protocol': 'RTP/AVP',
  ICE: 'remove',
  'rtcp-mux': ['demux'],
  replace: ['origin', 'session-connection'],
};
const FLAGS_TO_WEBRTC_ANSWER: NgDict = {
  ...SOURCE_FLAGS,
  'transport-protocol': 'UDP/TLS/RTP/SAVPF',
  ICE: 'force',
  'rtcp-mux': ['require'],
  DTLS: 'active',
  SDES: ['off'],
  replace: ['origin', 'session-connection'],
};
const FLAGS_TO_WEBRTC_OFFER: NgDict = {
  ...SOURCE_FLAGS,
  'transport-protocol': 'UDP/TLS/RTP/SAVPF',
  ICE: 'force',
  'rtcp-mux': ['offer', 'require'],
  SDES: ['off'],
  replace: ['origin', 'session-connection'],
};

export class RtpengineRelay implements MediaRelay {
  readonly kind = 'rtpengine' as const;
  onMediaTimeout?: (callId: string) => void;
  private readonly client: NgClient;
  private readonly calls = new Map<string, Call>();
  private readonly mediaTimeoutMs: number;
  private readonly timer: NodeJS.Timeout;
  private polling = false;
  private closed = false;

  constructor(private readonly options: RtpengineRelayOptions) {
    this.client = new NgClient({ address: options.ng, timeoutMs: options.timeoutMs ?? 1000, attempts: 3 });
    this.mediaTimeoutMs = options.mediaTimeoutMs ?? 30_000;
    if (!(this.mediaTimeoutMs > 0)) throw new RangeError(`media timeout ${this.mediaTimeoutMs} ms is not positive`);
    // rtpengine reports the last packet to the second; poll a few times per timeout.
    this.timer = setInterval(() => void this.poll(), Math.max(250, Math.min(5000, this.mediaTimeoutMs / 4)));
    this.timer.unref();
  }

  async offer(request: RelayOffer): Promise<RelayedSdp> {
    this.assertOpen();
    const { callId, fromTag, to } = request;
    if (!callId || !fromTag) throw new RelayError('offer without call id or from-tag', 500);
    if (to !== 'rtp' && to !== 'webrtc') throw new RelayError(`unknown media profile ${String(to)}`, 500);
    const from: MediaProfile = to === 'rtp' ? 'webrtc' : 'rtp';
    const sdp = parseSdp(request.sdp);
    const lines = bridgedLines(sdp, from, 'offer');
    const existing = this.calls.get(callId);
    if (existing?.answered) {
      const expected = from === 'webrtc' ? existing.webrtcTag : existing.plainTag;
      if (fromTag !== expected) throw new RelayError(`re-offer from tag ${fromTag} as ${from}, but the ${from} side of this call is ${expected ?? 'unknown'}`);
    }
    // The offerer is the plain side when the SDP goes to a browser.
    const flags = to === 'rtp' ? FLAGS_TO_RTP : withNat(FLAGS_TO_WEBRTC_OFFER, sdp, request.signallingSource);
    const reply = await this.ng('offer', { ...flags, 'call-id': callId, 'from-tag': fromTag, sdp: writeSdp(keepOnlyBridged(sdp, lines)) });
    const call: Call = existing ?? { answered: false, sends: new Map(), negotiatedAt: Date.now(), timedOut: false, seen: new Map() };
    call.pending = { fromTag, from, lines, sdp };
    this.calls.set(callId, call);
    return { sdp: tidy(sdpOf(reply), to) };
  }

  async answer(request: RelayAnswer): Promise<RelayedSdp> {
    this.assertOpen();
    const { callId, fromTag, toTag } = request;
    const call = this.calls.get(callId);
    if (!call?.pending) throw new RelayError(`no offer is waiting for an answer in call ${callId}`, 500);
    if (call.pending.fromTag !== fromTag) throw new RelayError(`answer for tag ${fromTag}, but the offer came from ${call.pending.fromTag}`, 500);
    if (!toTag) throw new RelayError('answer without a to-tag', 500);
    const { from, sdp: offer, lines } = call.pending;
    const answerFrom: MediaProfile = from === 'webrtc' ? 'rtp' : 'webrtc';
    const sdp = parseSdp(request.sdp);
    // The answerer must have kept a codec of each line it accepted (rtpengine would otherwise
    // have to transcode, or pass media nobody can decode).
    const answered = bridgedLines(sdp, answerFrom, 'answer');
    for (const a of answered) {
      const offered = lines[a.index]?.codecs ?? [];
      if (!pairAnswer(offered, rtpMaps(sdp.media[a.index]!)).some((p) => isMainCodec(p.answered))) {
        throw new RelayError(`the answer's m=${sdp.media[a.index]!.kind} chose no offered codec (offered ${describeCodecs(offered)})`);
      }
    }
    // The answerer is the plain side when the offer came from a browser.
    const flags = from === 'webrtc' ? withNat(FLAGS_TO_WEBRTC_ANSWER, sdp, request.signallingSource) : FLAGS_TO_RTP;
    const reply = await this.ng('answer', { ...flags, 'call-id': callId, 'from-tag': fromTag, 'to-tag': toTag, sdp: writeSdp(sdp) });
    if (from === 'webrtc') {
      call.webrtcTag = fromTag;
      call.plainTag = toTag;
    } else {
      call.plainTag = fromTag;
      call.webrtcTag = toTag;
    }
    const offerSends = lines.some((l) => sends(direction(offer.media[l.index]!, offer)));
    const answerDirs = answered.map((a) => direction(sdp.media[a.index]!, sdp));
    call.sends.set(fromTag, offerSends && answerDirs.some((d) => d === 'sendrecv' || d === 'recvonly'));
    call.sends.set(toTag, answerDirs.some(sends));
    call.pending = undefined;
    call.answered = true;
    call.negotiatedAt = Date.now();
    return { sdp: tidy(sdpOf(reply), from) };
  }

  async delete(callId: string): Promise<void> {
    if (!this.calls.delete(callId) || this.closed) return;
    try {
      await this.client.request('delete', { 'call-id': callId });
    } catch (e) {
      // Already gone (rtpengine's own timeout) is fine: delete is idempotent.
      if (!(e instanceof NgError && e.fromRtpengine)) throw new RelayError((e as Error).message, 503);
    }
  }

  async stats(callId: string): Promise<RelayLegStats[]> {
    if (!this.calls.has(callId)) throw new RelayError(`no media session for call ${callId}`, 500);
    const call = this.calls.get(callId)!;
    const reply = await this.ng('query', { 'call-id': callId });
    const tags = asDict(reply.tags);
    const ssrcStats = asDict(reply.SSRC);
    const legs: RelayLegStats[] = [];
    for (const tag of [call.webrtcTag ?? call.pending?.fromTag, call.plainTag].filter((t): t is string => !!t)) {
      const mine = streamsOf(tags[tag]);
      const other = Object.keys(tags)
        .filter((t) => t !== tag)
        .flatMap((t) => streamsOf(tags[t]));
      const received = mine.reduce((n, s) => n + s.packets, 0);
      const sent = other.reduce((n, s) => n + s.packets, 0);
      // Per-SSRC quality exists once rtpengine has seen RTCP for the stream.
      let lost = 0;
      let jitterMs: number | null = null;
      let rttMs: number | null = null;
      for (const s of mine) {
        const q = asDict(ssrcStats[String(s.ssrc)]);
        if (typeof q['cumulative loss'] === 'number') lost += q['cumulative loss'];
        const avg = asDict(q['average MOS']);
        if (typeof avg.jitter === 'number') jitterMs ??= avg.jitter;
        if (typeof avg['round-trip time'] === 'number' && avg['round-trip time'] > 0) rttMs ??= avg['round-trip time'] / 1000;
      }
      legs.push({ tag, packetsReceived: received, packetsSent: sent, packetsLost: lost, jitterMs, rttMs });
    }
    return legs;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.all([...this.calls.keys()].map((id) => this.delete(id).catch(() => {})));
    this.closed = true;
    clearInterval(this.timer);
    this.client.close();
  }

  // ------------------------------------------------------------------ media timeout

  private async poll(): Promise<void> {
    if (this.polling || this.closed) return;
    this.polling = true;
    try {
      const now = Date.now();
      for (const [callId, call] of this.calls) {
        if (!call.answered || call.timedOut) continue;
        let tags: { [key: string]: BencodeValue };
        try {
          tags = asDict((await this.client.request('query', { 'call-id': callId })).tags);
        } catch (e) {
          if (e instanceof NgError && e.fromRtpengine && this.calls.has(callId)) this.timedOut(callId, call); // rtpengine dropped it
          continue;
        }
        for (const [tag, shouldSend] of call.sends) {
          // rtpengine's counters and "last packet" include RTCP (muxed on the browser side), which
          // keeps coming from a browser whose microphone stopped. So media is "flowing" while the
          // count grows faster than RTCP ever does (audio is 16 to 50 packets a second).
          const packets = streamsOf(tags[tag]).reduce((n, x) => n + x.packets, 0);
          const before = call.seen.get(tag);
          if (!before) {
            call.seen.set(tag, { packets, at: now, mediaAt: packets > 0 ? now : 0 });
            continue;
          }
          const rate = ((packets - before.packets) * 1000) / Math.max(1, now - before.at);
          before.packets = packets;
          before.at = now;
          if (rate >= MEDIA_PACKETS_PER_S) before.mediaAt = now;
          if (!shouldSend || !before.mediaAt) continue;
          if (now - Math.max(before.mediaAt, call.negotiatedAt) > this.mediaTimeoutMs) {
            this.timedOut(callId, call);
            break;
          }
        }
      }
    } finally {
      this.polling = false;
    }
  }

  private timedOut(callId: string, call: Call): void {
    call.timedOut = true;
    try {
      this.onMediaTimeout?.(callId);
    } catch {
      // the listener's failure is not the relay's
    }
  }

  // ------------------------------------------------------------------ helpers

  private async ng(command: string, args: NgDict): Promise<NgDict> {
    try {
      return await this.client.request(command, args);
    } catch (e) {
      if (e instanceof NgError && e.fromRtpengine) throw new RelayError(`${e.message}`, 488);
      throw new RelayError(`media relay unavailable: ${(e as Error).message}`, 503);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new RelayError('media relay is closed', 503);
  }
}

/**
 * The flags for a plain side's SDP, plus (behind NAT) "take the media address from the
 * signalling source": when its SDP names a private address and its SIP came from another one.
 */
function withNat(flags: NgDict, sdp: Sdp, signallingSource: string | undefined): NgDict {
  if (!signallingSource || isIP(signallingSource) === 0) return flags;
  const named = sdp.media.map((m) => connectionAddress(m, sdp)).filter((a): a is string => !!a);
  if (!named.some((a) => a !== signallingSource && isPrivateAddress(a))) return flags;
  return {
    ...flags,
    flags: ['strict-source', 'endpoint-learning-heuristic', 'SIP-source-address'],
    'received-from': [isIP(signallingSource) === 6 ? 'IP6' : 'IP4', signallingSource],
  };
}

/** Addresses that cannot be reached from the internet: an SDP naming one is behind NAT. */
function isPrivateAddress(address: string): boolean {
  const v4 = /^(\d+)\.(\d+)\.\d+\.\d+$/.exec(address);
  if (v4) {
    const [a, b] = [Number(v4[1]), Number(v4[2])];
    return a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127) || (a === 169 && b === 254);
  }
  return /^f[cd]|^fe[89ab]/i.test(address);
}

function sdpOf(reply: NgDict): string {
  if (typeof reply.sdp !== 'string') throw new RelayError('rtpengine answered without SDP', 500);
  return reply.sdp;
}

/**
 * Cleans what rtpengine passes through from the other side but the receiver has no use for:
 * to a phone, ICE and WebRTC leftovers (a=end-of-candidates, a=mid, msid, extmap); to a browser,
 * a=rtcp:PORT next to a=rtcp-mux (werift rejects it; browsers ignore it with rtcp-mux).
 */
function tidy(sdp: string, to: MediaProfile): string {
  if (to === 'webrtc') sdp = withMids(sdp);
  const drop =
    to === 'rtp'
      ? /^a=(end-of-candidates|mid:|msid|msid-semantic|extmap|extmap-allow-mixed|group:BUNDLE|ssrc-group|rtcp-fb:|ice-options)/
      : /^a=rtcp:\d/;
  return sdp
    .split('\r\n')
    .filter((l) => !drop.test(l))
    .join('\r\n');
}

/** JSEP (RFC 8829 §5.2.1) wants a=mid in every media section; a phone's offer has none. */
function withMids(text: string): string {
  const sdp = parseSdp(text);
  sdp.media.forEach((m, i) => {
    if (!m.lines.some((l) => l.startsWith('a=mid:'))) m.lines.push(`a=mid:${i}`);
  });
  return writeSdp(sdp);
}

function asDict(v: BencodeValue | undefined): { [key: string]: BencodeValue } {
  return v && typeof v === 'object' && !Array.isArray(v) ? v : {};
}

/** The RTP streams (the first stream of each media) of a monologue in a query reply. */
function streamsOf(monologue: BencodeValue | undefined): { packets: number; lastPacketS: number; ssrc: number }[] {
  const medias = asDict(monologue).medias;
  if (!Array.isArray(medias)) return [];
  return medias.flatMap((m) => {
    const streams = asDict(m).streams;
    const s = Array.isArray(streams) ? asDict(streams[0]) : {};
    const stats = asDict(s.stats);
    return [
      {
        packets: typeof stats.packets === 'number' ? stats.packets : 0,
        lastPacketS: typeof s['last packet'] === 'number' ? s['last packet'] : 0,
        ssrc: typeof s.SSRC === 'number' ? s.SSRC : -1,
      },
    ];
  });
}
