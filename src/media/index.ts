/**
 * The media relay (ARCHITECTURE.md): bridges a WebRTC leg (ICE, DTLS-SRTP, rtcp-mux) to a plain
 * RTP/AVP leg without transcoding. One contract (types.ts), two implementations: in-process (the
 * embedded default: werift for ICE and DTLS, its own SRTP data plane) and rtpengine over its ng
 * control protocol (the scale path).
 *
 * How the B2BUA uses it, for a call between a browser and a phone or trunk (never between two
 * browsers: their media stays peer to peer):
 *
 * 1. INVITE with an offer arrives from leg A. `offer({ callId, fromTag: A's tag, sdp: A's SDP,
 *    to })`, `to` being what the *other* side speaks: `'rtp'` when A is a browser calling a phone,
 *    `'webrtc'` when A is a phone/trunk calling a browser. Send the returned SDP in the INVITE(s)
 *    to the other side; with forking, the same SDP goes to every branch of that profile.
 *    RelayError → answer A with `error.sipStatus` (488 Not Acceptable Here for SDP it cannot
 *    bridge; 503 when out of ports or rtpengine is unreachable) and send no INVITE.
 * 2. The 200 OK of the branch that answered: `answer({ callId, fromTag: A's tag, toTag: the
 *    answerer's tag, sdp: its SDP })`; put the returned SDP in A's 200 OK. RelayError here: ACK
 *    and BYE the answerer, answer A with the error's status.
 * 3. A re-INVITE (hold: a=sendonly/inactive, resume, new address) from either side is the same
 *    pair of calls with that side's tag as `fromTag` and the other side's profile as `to`.
 * 4. `delete(callId)` when the call ends (BYE, CANCEL, every branch failed, or a failed first
 *    offer — though a refused first offer leaves nothing behind). Idempotent.
 * 5. `onMediaTimeout = (callId) => …`: hang the call up (BYE both legs, cause "media timeout").
 *    It fires when a side that should be sending sent no RTP for `mediaTimeoutMs` after media had
 *    flowed, and (in-process) at once when ICE fails or DTLS closes.
 * 6. `stats(callId)` for call quality (one entry per side, by tag); `close()` at shutdown.
 */
import { InProcessRelay } from './in-process/relay.ts';
import { RtpengineRelay } from './rtpengine/relay.ts';
import type { MediaRelay } from './types.ts';

export * from './types.ts';
export { InProcessRelay, type InProcessRelayOptions } from './in-process/relay.ts';
export { RtpengineRelay, type RtpengineRelayOptions } from './rtpengine/relay.ts';
export { MAX_SDP_BYTES } from './sdp.ts';

/**
 * Everything the relay can be configured with; the application maps its environment onto it:
 * MEDIA_RELAY → `kind`, RTPENGINE_NG → `rtpengineNg`, MEDIA_PORT_MIN/MAX → `portMin`/`portMax`,
 * MEDIA_BIND_ADDRESS → `bindAddress`, MEDIA_TIMEOUT_S → `mediaTimeoutMs` (× 1000).
 */
export interface MediaRelayOptions {
  /** `in-process` (default): werift inside this process. `rtpengine`: a running rtpengine daemon. */
  kind?: 'in-process' | 'rtpengine';
  /** rtpengine's ng control address, `host:port` (required for `rtpengine`). */
  rtpengineNg?: string;
  /** UDP port range of the in-process relay's media (default 30000–39999). rtpengine uses its own --port-min/max. */
  portMin?: number;
  portMax?: number;
  /** Address the in-process relay binds and announces (default 127.0.0.1). */
  bindAddress?: string;
  /** Media silence after which `onMediaTimeout` fires (default 30 000 ms). */
  mediaTimeoutMs?: number;
  /** rtpengine: how long to wait for an ng reply before retrying / failing (default 1000 ms, 3 tries). */
  ngTimeoutMs?: number;
}

export function createMediaRelay(options: MediaRelayOptions = {}): MediaRelay {
  const kind = options.kind ?? 'in-process';
  if (kind === 'rtpengine') {
    if (!options.rtpengineNg) throw new RangeError('the rtpengine media relay needs rtpengineNg (RTPENGINE_NG=host:port)');
    return new RtpengineRelay({ ng: options.rtpengineNg, mediaTimeoutMs: options.mediaTimeoutMs, timeoutMs: options.ngTimeoutMs });
  }
  if (kind !== 'in-process') throw new RangeError(`unknown media relay ${String(kind)}: in-process or rtpengine`);
  return new InProcessRelay({ bindAddress: options.bindAddress, portMin: options.portMin, portMax: options.portMax, mediaTimeoutMs: options.mediaTimeoutMs });
}
