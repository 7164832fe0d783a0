/**
 * The media relay (ARCHITECTURE.md): bridges a WebRTC leg (ICE, DTLS-SRTP, rtcp-mux) to a plain
 * RTP/AVP leg without transcoding. One contract (types.ts), two implementations: in-process (the
 * embedded default) and rtpengine over its ng control protocol (the scale path).
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
