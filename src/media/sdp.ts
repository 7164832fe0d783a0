/**
 * A small, defensive SDP (RFC 8866) reader and writer: just what the relay needs to convert between
 * a WebRTC description (ICE, DTLS-SRTP, rtcp-mux, AVPF) and a plain RTP/AVP one.
 *
 * Hostile input is expected (it comes from any phone, trunk or browser): the text is capped in
 * size, lines and media sections, every number is range-checked, and anything unreadable throws
 * RelayError(488) with a message that says what was wrong, never a TypeError from deep inside.
 */
import { RelayError } from './types.ts';

/** Larger SDP is refused outright (a real one is a few kB; Chromium's with video about 6 kB). */
export const MAX_SDP_BYTES = 64 * 1024;
const MAX_LINES = 2000;
const MAX_MEDIA = 16;

export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
const DIRECTIONS: ReadonlySet<string> = new Set(['sendrecv', 'sendonly', 'recvonly', 'inactive']);

export interface RtpMap {
  payloadType: number;
  /** As written (`PCMU`, `opus`, `telephone-event`); compare with `codecKey`. */
  name: string;
  clockRate: number;
  channels: number;
  /** The `a=fmtp` parameters, when present. */
  fmtp?: string;
  /** `a=rtcp-fb` values for this payload type (`nack pli`, `ccm fir` …). */
  rtcpFb: string[];
}

export interface SdpMedia {
  kind: string;
  port: number;
  proto: string;
  /** Format list of the m-line, in preference order. */
  formats: string[];
  /** Every line of the section after the m-line, without the `x=` kept apart. */
  lines: string[];
}

export interface Sdp {
  /** Session-level lines (everything before the first m-line). */
  session: string[];
  media: SdpMedia[];
}

/** Lower-case `name/clock/channels`: the identity of a codec across both sides. */
export function codecKey(name: string, clockRate: number, channels: number): string {
  return `${name.toLowerCase()}/${clockRate}/${channels}`;
}

function fail(message: string): never {
  throw new RelayError(`bad SDP: ${message}`);
}

export function parseSdp(text: unknown): Sdp {
  if (typeof text !== 'string') fail('not text');
  if (text.length > MAX_SDP_BYTES || Buffer.byteLength(text) > MAX_SDP_BYTES) fail(`larger than ${MAX_SDP_BYTES} bytes`);
  const raw = text.split(/\r?\n/);
  if (raw.length > MAX_LINES) fail(`more than ${MAX_LINES} lines`);
  const sdp: Sdp = { session: [], media: [] };
  let current: SdpMedia | undefined;
  let first = true;
  for (const line of raw) {
    if (line === '') continue;
    if (line.length < 2 || line[1] !== '=' || !/^[a-z]$/.test(line[0]!)) fail(`unreadable line ${JSON.stringify(line.slice(0, 40))}`);
    if (first) {
      if (line !== 'v=0') fail('does not start with v=0');
      first = false;
    }
    if (line.startsWith('m=')) {
      if (sdp.media.length >= MAX_MEDIA) fail(`more than ${MAX_MEDIA} media sections`);
      const m = /^m=([a-z]+) (\d{1,5})(?:\/\d+)? ([A-Za-z0-9/]+)((?: [^ ]+)*)$/.exec(line);
      if (!m) fail(`unreadable media line ${JSON.stringify(line.slice(0, 60))}`);
      const port = Number(m[2]);
      if (port > 65535) fail(`port ${port} out of range`);
      current = { kind: m[1]!, port, proto: m[3]!, formats: m[4]!.trim().split(' ').filter(Boolean), lines: [] };
      sdp.media.push(current);
    } else if (current) {
      current.lines.push(line);
    } else {
      sdp.session.push(line);
    }
  }
  if (first) fail('empty');
  return sdp;
}

export function writeSdp(sdp: Sdp): string {
  const out = [...sdp.session];
  for (const m of sdp.media) {
    out.push(`m=${m.kind} ${m.port} ${m.proto} ${m.formats.join(' ')}`, ...m.lines);
  }
  return `${out.join('\r\n')}\r\n`;
}

/** Values of `a=NAME:value` (or presence of `a=NAME`, as ''), in order. */
export function attributes(lines: readonly string[], name: string): string[] {
  const prefix = `a=${name}`;
  const out: string[] = [];
  for (const l of lines) {
    if (!l.startsWith(prefix)) continue;
    if (l.length === prefix.length) out.push('');
    else if (l[prefix.length] === ':') out.push(l.slice(prefix.length + 1));
  }
  return out;
}

export function attribute(media: SdpMedia, sdp: Sdp, name: string): string | undefined {
  return attributes(media.lines, name)[0] ?? attributes(sdp.session, name)[0];
}

export function direction(media: SdpMedia, sdp: Sdp): Direction {
  for (const l of media.lines) if (l.startsWith('a=') && DIRECTIONS.has(l.slice(2))) return l.slice(2) as Direction;
  for (const l of sdp.session) if (l.startsWith('a=') && DIRECTIONS.has(l.slice(2))) return l.slice(2) as Direction;
  return 'sendrecv';
}

/** The direction the other side of an offer/answer should take. */
export function reverse(d: Direction): Direction {
  return d === 'sendonly' ? 'recvonly' : d === 'recvonly' ? 'sendonly' : d;
}

export function sends(d: Direction): boolean {
  return d === 'sendrecv' || d === 'sendonly';
}

/** The `c=` address of a media section (its own, or the session's). */
export function connectionAddress(media: SdpMedia, sdp: Sdp): string | undefined {
  const c = media.lines.find((l) => l.startsWith('c=')) ?? sdp.session.find((l) => l.startsWith('c='));
  if (!c) return undefined;
  const m = /^c=IN IP[46] ([^ /]+)/.exec(c);
  if (!m) fail(`unreadable connection line ${JSON.stringify(c.slice(0, 60))}`);
  return m[1];
}

/** The RTP payload formats of a section with their rtpmap/fmtp/rtcp-fb (static types filled in). */
export function rtpMaps(media: SdpMedia): RtpMap[] {
  const byPt = new Map<number, RtpMap>();
  for (const f of media.formats) {
    if (!/^\d{1,3}$/.test(f)) continue;
    const pt = Number(f);
    if (pt > 127) fail(`payload type ${pt} out of range`);
    const known = STATIC_PAYLOAD_TYPES[pt];
    if (known) byPt.set(pt, { payloadType: pt, ...known, rtcpFb: [] });
  }
  for (const v of attributes(media.lines, 'rtpmap')) {
    const m = /^(\d{1,3}) ([A-Za-z0-9_.+-]{1,32})\/(\d{1,6})(?:\/(\d{1,2}))?$/.exec(v.trim());
    if (!m) fail(`unreadable rtpmap ${JSON.stringify(v.slice(0, 60))}`);
    const pt = Number(m[1]);
    if (pt > 127) fail(`payload type ${pt} out of range`);
    if (!media.formats.includes(m[1]!)) continue;
    byPt.set(pt, { payloadType: pt, name: m[2]!, clockRate: Number(m[3]), channels: m[4] ? Number(m[4]) : 1, rtcpFb: [] });
  }
  for (const v of attributes(media.lines, 'fmtp')) {
    const m = /^(\d{1,3}) (.*)$/.exec(v);
    const entry = m && byPt.get(Number(m[1]));
    if (entry) entry.fmtp = m[2]!.trim();
  }
  for (const v of attributes(media.lines, 'rtcp-fb')) {
    const m = /^(\d{1,3}|\*) (.*)$/.exec(v);
    if (!m) continue;
    for (const entry of byPt.values()) if (m[1] === '*' || Number(m[1]) === entry.payloadType) entry.rtcpFb.push(m[2]!.trim());
  }
  // In m-line (preference) order.
  const ordered: RtpMap[] = [];
  for (const f of media.formats) {
    const e = byPt.get(Number(f));
    if (e && !ordered.includes(e)) ordered.push(e);
  }
  return ordered;
}

/** RFC 3551's static payload types the relay may meet without an rtpmap. */
const STATIC_PAYLOAD_TYPES: Record<number, { name: string; clockRate: number; channels: number }> = {
  0: { name: 'PCMU', clockRate: 8000, channels: 1 },
  8: { name: 'PCMA', clockRate: 8000, channels: 1 },
  9: { name: 'G722', clockRate: 8000, channels: 1 },
  13: { name: 'CN', clockRate: 8000, channels: 1 },
};

export function isWebRtcProto(proto: string): boolean {
  return /^(UDP\/TLS\/RTP\/SAVPF|UDP\/TLS\/RTP\/SAVP|TCP\/DTLS\/RTP\/SAVPF)$/i.test(proto);
}

export function isPlainRtpProto(proto: string): boolean {
  return /^RTP\/AVPF?$/i.test(proto);
}
