/**
 * The checks both relays apply to an SDP before bridging it, so both refuse the same things with
 * the same words: RelayError(488) for a WebRTC side without DTLS-SRTP or ICE, a plain side that is
 * not RTP/AVP, media with no codec both sides can share, or no media at all.
 */
import { BRIDGEABLE_NAMES, bridgeableCodecs, describeCodecs } from './codecs.ts';
import { attribute, isPlainRtpProto, isWebRtcProto, rtpMaps, type RtpMap, type Sdp, type SdpMedia } from './sdp.ts';
import { RelayError, type MediaProfile } from './types.ts';

export function checkWebRtcMedia(m: SdpMedia, sdp: Sdp, what: 'offer' | 'answer'): void {
  if (!isWebRtcProto(m.proto)) {
    throw new RelayError(`m=${m.kind} uses ${m.proto}: a WebRTC ${what} must use UDP/TLS/RTP/SAVPF (DTLS-SRTP)`);
  }
  if (!attribute(m, sdp, 'fingerprint')) throw new RelayError(`WebRTC ${what} without a=fingerprint on m=${m.kind}: DTLS-SRTP needs it`);
  if (!attribute(m, sdp, 'ice-ufrag') || !attribute(m, sdp, 'ice-pwd')) throw new RelayError(`WebRTC ${what} without ICE credentials on m=${m.kind}`);
}

export function checkPlainMedia(m: SdpMedia): void {
  if (isPlainRtpProto(m.proto)) return;
  if (/SAVP/i.test(m.proto) && !isWebRtcProto(m.proto)) throw new RelayError(`m=${m.kind} uses ${m.proto} (SDES-SRTP), which is not bridged: offer RTP/AVP`);
  throw new RelayError(`m=${m.kind} uses ${m.proto} where plain RTP/AVP was expected`);
}

export interface BridgedLine {
  /** Index of the m-line in the SDP. */
  index: number;
  /** Its codecs the relay can pass through, in the SDP's order. */
  codecs: RtpMap[];
}

/**
 * The audio/video lines of an offer (or answer) from a `from` endpoint that can be bridged, each
 * with its bridgeable codecs; throws RelayError(488) saying why when something cannot be.
 */
export function bridgedLines(sdp: Sdp, from: MediaProfile, what: 'offer' | 'answer'): BridgedLine[] {
  const lines: BridgedLine[] = [];
  sdp.media.forEach((m, index) => {
    if (m.port === 0 || (m.kind !== 'audio' && m.kind !== 'video')) return;
    if (from === 'webrtc') checkWebRtcMedia(m, sdp, what);
    else checkPlainMedia(m);
    const maps = rtpMaps(m);
    const codecs = bridgeableCodecs(m.kind, maps);
    if (codecs.length === 0) {
      throw new RelayError(`no codec in common on m=${m.kind}: ${what === 'offer' ? 'offered' : 'answered'} ${describeCodecs(maps)}; the relay bridges ${BRIDGEABLE_NAMES} without transcoding`);
    }
    lines.push({ index, codecs });
  });
  if (lines.length === 0) throw new RelayError(`the ${what} has no audio or video line to bridge`);
  return lines;
}

/** A copy of the SDP whose bridged lines list only their bridgeable codecs (with their rtpmap/fmtp/rtcp-fb). */
export function keepOnlyBridged(sdp: Sdp, lines: BridgedLine[]): Sdp {
  const media = sdp.media.map((m, i) => {
    const bridged = lines.find((l) => l.index === i);
    if (!bridged) return m;
    const keep = new Set(bridged.codecs.map((c) => String(c.payloadType)));
    const perPt = /^a=(rtpmap|fmtp|rtcp-fb):(\d+) /;
    return {
      ...m,
      formats: m.formats.filter((f) => keep.has(f)),
      lines: m.lines.filter((l) => {
        const hit = perPt.exec(l);
        return !hit || keep.has(hit[2]!);
      }),
    };
  });
  return { session: sdp.session, media };
}
