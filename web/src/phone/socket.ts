/**
 * A JsSIP socket whose WebSocket URL is asked for before every connection: JsSIP's own
 * `WebSocketInterface` takes one URL for its whole life, so a short-lived token in it
 * (`/sip?token=`, where no cookie reaches the page) would be stale by the first reconnection.
 * JsSIP's transport retries a failed connection (with its back-off) as it does a closed one;
 * a provider that fails counts as a failed connection.
 */
import type { Socket } from 'jssip/lib/Socket';

/** The WebSocket URL to connect to now (`wss://host/sip?token=…`). */
export type SocketUrlProvider = () => Promise<string>;

export class ProvidedUrlSocket implements Socket {
  private ws: WebSocket | null = null;
  /** Bumped by every connect() and disconnect(): a provider's late answer for an older one is dropped. */
  private generation = 0;
  private pending = false;
  private viaTransport: string;
  private readonly sipUri: string;

  onconnect: () => void = () => undefined;
  ondisconnect: (error: boolean, code?: number, reason?: string) => void = () => undefined;
  ondata: <T>(event: T) => void = () => undefined;

  /** `base`: the URL without its credentials (`ws://host/sip`), for JsSIP's Via and logs. */
  constructor(
    private readonly base: string,
    private readonly provider: SocketUrlProvider,
  ) {
    const u = new URL(base);
    this.sipUri = `sip:${u.host};transport=ws`;
    this.viaTransport = u.protocol === 'wss:' ? 'WSS' : 'WS';
  }

  get via_transport(): string {
    return this.viaTransport;
  }

  set via_transport(value: string) {
    this.viaTransport = value.toUpperCase();
  }

  get url(): string {
    return this.base;
  }

  get sip_uri(): string {
    return this.sipUri;
  }

  connect(): void {
    if (this.isConnected() || this.isConnecting()) return;
    if (this.ws) this.disconnect();
    const generation = ++this.generation;
    this.pending = true;
    this.provider().then(
      (url) => {
        if (generation !== this.generation) return;
        this.pending = false;
        try {
          const ws = new WebSocket(url, 'sip');
          ws.binaryType = 'arraybuffer';
          ws.onopen = () => this.onconnect();
          ws.onclose = (e) => this.ondisconnect(!e.wasClean, e.code, e.reason);
          ws.onmessage = (e) => this.ondata(e.data);
          this.ws = ws;
        } catch {
          this.failed(generation);
        }
      },
      () => this.failed(generation),
    );
  }

  disconnect(): void {
    this.generation++;
    this.pending = false;
    const ws = this.ws;
    this.ws = null;
    if (!ws) return;
    ws.onopen = ws.onclose = ws.onmessage = ws.onerror = null;
    ws.close();
  }

  send(message: string | ArrayBufferLike | Blob | ArrayBufferView): boolean {
    if (!this.isConnected()) return false;
    this.ws!.send(message as string | Blob | BufferSource);
    return true;
  }

  isConnected(): boolean {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  isConnecting(): boolean {
    return this.pending || (this.ws !== null && this.ws.readyState === WebSocket.CONNECTING);
  }

  /** No URL (the token could not be had): a connection that failed, which JsSIP retries later. */
  private failed(generation: number): void {
    if (generation !== this.generation) return;
    this.pending = false;
    // Asynchronously, as a WebSocket's close would be: JsSIP expects connect() to return first.
    setTimeout(() => {
      if (generation === this.generation && this.ws === null) this.ondisconnect(true, 1006, 'no WebSocket URL');
    }, 0);
  }
}
