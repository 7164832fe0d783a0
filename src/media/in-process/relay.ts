/**
 * The embedded media relay: WebRTC ⇄ plain RTP inside the Ringside process (werift for ICE and
 * DTLS, our own SRTP data plane), nothing to install beyond npm. See session.ts for one call.
 */
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import { RelayError, type MediaRelay, type RelayAnswer, type RelayedSdp, type RelayLegStats, type RelayOffer } from '../types.ts';
import { PortPool } from './ports.ts';
import { RelaySession } from './session.ts';

export interface InProcessRelayOptions {
  /** Address the media sockets bind to and that the SDP announces (default 127.0.0.1). */
  bindAddress?: string;
  /** UDP ports for media, both sides (default 30000–39999). */
  portMin?: number;
  portMax?: number;
  /** A call whose media stopped this long is reported to `onMediaTimeout` (default 30 s). */
  mediaTimeoutMs?: number;
}

export class InProcessRelay implements MediaRelay {
  readonly kind = 'in-process' as const;
  onMediaTimeout?: (callId: string) => void;
  private readonly sessions = new Map<string, RelaySession>();
  private readonly pool: PortPool;
  private readonly address: string;
  private readonly portMin: number;
  private readonly portMax: number;
  private readonly mediaTimeoutMs: number;
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(options: InProcessRelayOptions = {}) {
    this.address = options.bindAddress ?? '127.0.0.1';
    if (isIP(this.address) === 0 || this.address === '0.0.0.0' || this.address === '::') {
      // The address goes into SDP and ICE candidates: it must be one the peers can reach.
      throw new RangeError(`media bind address ${this.address} is not a concrete IP address (not 0.0.0.0 or ::)`);
    }
    this.portMin = options.portMin ?? 30000;
    this.portMax = options.portMax ?? 39999;
    this.mediaTimeoutMs = options.mediaTimeoutMs ?? 30_000;
    if (!(this.mediaTimeoutMs > 0)) throw new RangeError(`media timeout ${this.mediaTimeoutMs} ms is not positive`);
    this.pool = new PortPool(this.portMin, this.portMax, this.address);
    this.timer = setInterval(() => this.checkTimeouts(), Math.max(50, Math.min(1000, this.mediaTimeoutMs / 4)));
    this.timer.unref();
  }

  /** Sessions open now (for metrics and tests). */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Plain-side port pairs held now. */
  get portsInUse(): number {
    return this.pool.used;
  }

  async offer(request: RelayOffer): Promise<RelayedSdp> {
    this.assertOpen();
    checkRequest(request.callId, request.fromTag);
    if (request.to !== 'rtp' && request.to !== 'webrtc') throw new RelayError(`unknown media profile ${String(request.to)}`, 500);
    let session = this.sessions.get(request.callId);
    if (!session) {
      session = new RelaySession(request.callId, {
        address: this.address,
        pool: this.pool,
        webrtc: { address: this.address, portMin: this.portMin, portMax: this.portMax },
      });
      session.onFailure = () => this.timedOut(request.callId);
      this.sessions.set(request.callId, session);
    }
    const s = session;
    try {
      const source = checkSource(request.signallingSource);
      return { sdp: await this.serialise(s, () => s.offer(request.fromTag, request.sdp, request.to, source)) };
    } catch (e) {
      // A first offer that failed leaves nothing behind.
      if (!s.answered) await this.delete(request.callId);
      throw e;
    }
  }

  async answer(request: RelayAnswer): Promise<RelayedSdp> {
    this.assertOpen();
    checkRequest(request.callId, request.fromTag);
    if (typeof request.toTag !== 'string' || request.toTag === '') throw new RelayError('answer without a to-tag', 500);
    const s = this.sessions.get(request.callId);
    if (!s) throw new RelayError(`no media session for call ${request.callId}`, 500);
    const source = checkSource(request.signallingSource);
    return { sdp: await this.serialise(s, () => s.answer(request.fromTag, request.toTag, request.sdp, source)) };
  }

  async delete(callId: string): Promise<void> {
    const s = this.sessions.get(callId);
    if (!s) return;
    this.sessions.delete(callId);
    await s.queue.catch(() => {});
    await s.close();
  }

  async stats(callId: string): Promise<RelayLegStats[]> {
    const s = this.sessions.get(callId);
    if (!s) throw new RelayError(`no media session for call ${callId}`, 500);
    return s.stats();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await Promise.all([...this.sessions.keys()].map((id) => this.delete(id)));
  }

  private serialise<T>(s: RelaySession, fn: () => Promise<T>): Promise<T> {
    const run = s.queue.then(fn, fn);
    s.queue = run.catch(() => {});
    return run;
  }

  private readonly reported = new Set<string>();

  private timedOut(callId: string): void {
    if (this.reported.has(callId) || !this.sessions.has(callId)) return;
    this.reported.add(callId);
    try {
      this.onMediaTimeout?.(callId);
    } catch {
      // the listener's own failure is not the relay's
    }
  }

  private checkTimeouts(): void {
    const now = performance.now();
    for (const id of this.reported) if (!this.sessions.has(id)) this.reported.delete(id);
    for (const [id, s] of this.sessions) {
      if (s.answered && s.silentFor(now) > this.mediaTimeoutMs) this.timedOut(id);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new RelayError('media relay is closed', 503);
  }
}

function checkRequest(callId: unknown, fromTag: unknown): void {
  if (typeof callId !== 'string' || callId === '') throw new RelayError('request without a call id', 500);
  if (typeof fromTag !== 'string' || fromTag === '') throw new RelayError('request without a from-tag', 500);
}

/**
 * The signalling source as compared with packets' source addresses: an IP address (an IPv4-mapped
 * IPv6 form as the IPv4 address that UDP reports). Anything else (a trunk named by host name)
 * gives no NAT allowance: media is then taken from the SDP's exact address only.
 */
function checkSource(source: unknown): string | undefined {
  if (typeof source !== 'string' || isIP(source) === 0) return undefined;
  return source.startsWith('::ffff:') && isIP(source.slice(7)) === 4 ? source.slice(7) : source;
}
