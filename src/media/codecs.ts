/**
 * Which codecs the relay bridges, and how an offer's and an answer's codecs line up.
 *
 * The relay never transcodes: a call is bridged only when both sides share a codec. What both
 * WebRTC (Chromium, Firefox) and plain RTP phones can speak is audio PCMU, PCMA, G.722 and Opus,
 * video VP8 and H.264; telephone-event (RFC 4733 DTMF) rides along when both sides have it, but
 * is never enough alone.
 */
import { codecKey, type RtpMap } from './sdp.ts';

const BRIDGEABLE: Record<string, ReadonlySet<string>> = {
  audio: new Set(['pcmu/8000/1', 'pcma/8000/1', 'g722/8000/1', 'opus/48000/2', 'telephone-event/8000/1', 'telephone-event/48000/1']),
  video: new Set(['vp8/90000/1', 'h264/90000/1']),
};

export const BRIDGEABLE_NAMES = 'audio PCMU, PCMA, G722, opus; video VP8, H264';

export function keyOf(map: RtpMap): string {
  return codecKey(map.name, map.clockRate, map.channels);
}

/** A codec that carries the media itself (not DTMF or comfort noise). */
export function isMainCodec(map: RtpMap): boolean {
  const name = map.name.toLowerCase();
  return name !== 'telephone-event' && name !== 'cn';
}

/**
 * The codecs of a media section the relay can pass through, in the offerer's order; telephone-event
 * only when its clock matches a main codec's. Empty when none (the section cannot be bridged).
 */
export function bridgeableCodecs(kind: string, maps: readonly RtpMap[]): RtpMap[] {
  const allowed = BRIDGEABLE[kind];
  if (!allowed) return [];
  const main = maps.filter((m) => allowed.has(keyOf(m)) && isMainCodec(m));
  if (main.length === 0) return [];
  const clocks = new Set(main.map((m) => m.clockRate));
  return maps.filter((m) => allowed.has(keyOf(m)) && (isMainCodec(m) || clocks.has(m.clockRate)));
}

/** H.264 streams only match with the same packetization mode (RFC 6184 §8.2.2). */
function packetizationMode(map: RtpMap): string {
  return /packetization-mode=(\d)/.exec(map.fmtp ?? '')?.[1] ?? '0';
}

/** The entry of `candidates` that is the same codec as `map`, if any. */
export function findSameCodec(candidates: readonly RtpMap[], map: RtpMap): RtpMap | undefined {
  const key = keyOf(map);
  return candidates.find((c) => keyOf(c) === key && (c.name.toLowerCase() !== 'h264' || packetizationMode(c) === packetizationMode(map)));
}

/**
 * The answer's codecs that were offered, each paired with the offer's entry; an answer naming a
 * codec that was not offered is refused by the caller.
 */
export function pairAnswer(offered: readonly RtpMap[], answered: readonly RtpMap[]): { offered: RtpMap; answered: RtpMap }[] {
  const pairs: { offered: RtpMap; answered: RtpMap }[] = [];
  for (const a of answered) {
    const o = findSameCodec(offered, a);
    if (o) pairs.push({ offered: o, answered: a });
  }
  return pairs;
}

export function describeCodecs(maps: readonly RtpMap[]): string {
  return maps.length ? maps.map((m) => `${m.name}/${m.clockRate}`).join(', ') : 'none';
}
