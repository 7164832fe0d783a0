/**
 * The transport layer (RFC 3261 §18): UDP, TCP, TLS and SIP over WebSocket (RFC 7118) listeners,
 * connection reuse, a size cap and per-source rate limits. Every byte that arrives is parsed
 * here; what parses goes up to the delegate (the transaction layer), what doesn't gets a 400 when
 * one can be sent — and nothing else happens.
 */
import dgram from 'node:dgram';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  REASON_PHRASES,
  SipMessageError,
  SipResponse,
  parseMessage,
  type AnySipMessage,
  type PartialRequest,
} from '../message/index.ts';
import { normalizeAddress, StreamFlow, WebSocketFlow, type FlowSink } from './flows.ts';
import { describe, type Destination, type Flow, type Source, type TlsPeer, type TransportProtocol } from './types.ts';

export interface TransportLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export interface TransportOptions {
  /** Largest message accepted on any transport (bigger: 513 or connection closed). */
  maxMessageBytes?: number;
  /** Requests per second one address may send (0 = unlimited); excess is answered 503 then dropped. */
  rateLimitPerSource?: number;
  /** Open connections one address may hold. */
  maxFlowsPerAddress?: number;
  /** Close a connection after this long without traffic. */
  idleTimeoutMs?: number;
  /**
   * Addresses whose request rate is tracked at once. When the table is full (a flood from
   * spoofed sources), every address not yet in it shares one bucket: new sources are limited
   * together, and no tracked address's bucket is ever reset to make room.
   */
  maxTrackedSources?: number;
  logger?: TransportLogger;
}

export interface TransportDelegate {
  onMessage(message: AnySipMessage, source: Source): void;
}

/** Thrown (rejected) by a `WebSocketUpgradeAuth` to refuse an upgrade with this HTTP status. */
export class UpgradeRefused extends Error {
  constructor(
    readonly status: number,
    readonly statusText: string,
    message: string,
  ) {
    super(message);
    this.name = 'UpgradeRefused';
  }
}

export interface WebSocketUpgradeAuth {
  /** Decides whether an upgrade may proceed; may attach an identity to the flow. */
  (request: IncomingMessage): Promise<Flow['identity'] | undefined | false> | Flow['identity'] | undefined | false;
}

export interface TransportStats {
  received: number;
  sent: number;
  parseErrors: number;
  rateLimited: number;
  flows: number;
}

/** A token bucket: `tokens` left at time `at` (ms). */
interface Bucket {
  tokens: number;
  at: number;
}

export interface WebSocketAttachOptions {
  path: string;
  secure: boolean;
  host: string;
  port: number;
  authenticate?: WebSocketUpgradeAuth;
  /**
   * The client's address for an upgrade that came through a reverse proxy (from a trusted
   * X-Forwarded-For): what the flow reports as its remote address, and so what the connection
   * caps, the rate limit and the authentication-failure counts apply to. Default: the TCP peer.
   */
  clientAddress?: (request: IncomingMessage) => string;
}

const silentLogger: TransportLogger = { info() {}, warn() {}, debug() {} };

export class TransportLayer implements FlowSink {
  delegate: TransportDelegate | undefined;
  readonly stats: TransportStats = { received: 0, sent: 0, parseErrors: 0, rateLimited: 0, flows: 0 };
  private udp: dgram.Socket | undefined;
  private servers: (net.Server | tls.Server)[] = [];
  private wss: WebSocketServer | undefined;
  private readonly flows = new Map<string, Flow>();
  /** Outgoing connection reuse: `TCP:1.2.3.4:5060` → flow. */
  private readonly flowsByPeer = new Map<string, Flow>();
  private readonly flowsPerAddress = new Map<string, number>();
  private readonly buckets = new Map<string, Bucket>();
  /** Shared by every address that arrives while `buckets` is full. */
  private readonly overflowBucket: Bucket = { tokens: 0, at: 0 };
  private readonly listening = new Map<TransportProtocol, { host: string; port: number }>();
  private readonly options: Required<Omit<TransportOptions, 'logger'>>;
  private readonly log: TransportLogger;
  private sweepTimer: NodeJS.Timeout;

  constructor(options: TransportOptions = {}) {
    this.options = {
      maxMessageBytes: options.maxMessageBytes ?? 64 * 1024,
      rateLimitPerSource: options.rateLimitPerSource ?? 0,
      maxFlowsPerAddress: options.maxFlowsPerAddress ?? 1000,
      idleTimeoutMs: options.idleTimeoutMs ?? 15 * 60_000,
      maxTrackedSources: options.maxTrackedSources ?? 100_000,
    };
    this.log = options.logger ?? silentLogger;
    // One sweep for every flow (a timer per connection costs memory at 10,000 connections).
    this.sweepTimer = setInterval(() => this.sweep(), Math.min(5_000, this.options.idleTimeoutMs / 2)).unref();
  }

  private sweep(): void {
    this.forgetRefilledBuckets();
    const cutoff = Date.now() - this.options.idleTimeoutMs;
    for (const flow of this.flows.values()) if (flow.lastActivity < cutoff) flow.close('idle');
  }

  /** Where this node listens for a protocol (for Via and Contact). */
  local(protocol: TransportProtocol): { host: string; port: number } | undefined {
    return this.listening.get(protocol);
  }

  get openFlows(): number {
    return this.flows.size;
  }

  flow(id: string): Flow | undefined {
    return this.flows.get(id);
  }

  // ---------------------------------------------------------------- listeners

  async listenUdp(host: string, port: number): Promise<number> {
    const socket = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4', reuseAddr: false });
    socket.on('message', (buf, rinfo) => this.receive(buf, { protocol: 'UDP', address: normalizeAddress(rinfo.address), port: rinfo.port }));
    socket.on('error', (err) => this.log.warn({ err }, 'UDP socket error'));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    this.udp = socket;
    // Bursts (a busy tick, a GC pause) must queue in the kernel, not be dropped: a 200 KB default
    // buffer holds well under 100 ms of a busy server's traffic. The kernel caps it at rmem_max.
    for (const size of [8 << 20, 4 << 20, 1 << 20]) {
      try {
        socket.setRecvBufferSize(size);
        socket.setSendBufferSize(size);
        break;
      } catch {
        // try a smaller one
      }
    }
    const bound = socket.address().port;
    this.listening.set('UDP', { host, port: bound });
    return bound;
  }

  /** Closes the UDP listener (to bind another port: see AppServer's start with SIP_PORT=0). */
  async closeUdp(): Promise<void> {
    const socket = this.udp;
    if (!socket) return;
    this.udp = undefined;
    this.listening.delete('UDP');
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  }

  async listenTcp(host: string, port: number): Promise<number> {
    const server = net.createServer((socket) => this.accept('TCP', socket));
    return this.listenStream('TCP', server, host, port);
  }

  async listenTls(host: string, port: number, secureContext: tls.TlsOptions): Promise<number> {
    const server = tls.createServer(secureContext, (socket) => this.accept('TLS', socket));
    return this.listenStream('TLS', server, host, port);
  }

  private async listenStream(protocol: 'TCP' | 'TLS', server: net.Server, host: string, port: number): Promise<number> {
    server.on('error', (err) => this.log.warn({ err, protocol }, 'listener error'));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.servers.push(server);
    const bound = (server.address() as net.AddressInfo).port;
    this.listening.set(protocol, { host, port: bound });
    return bound;
  }

  /**
   * SIP over WebSocket on an existing HTTP(S) server at `path`, subprotocol `sip` (RFC 7118 §4.1).
   * `authenticate` sees the upgrade request (cookies) and binds the flow to an identity, or refuses.
   */
  attachWebSocket(server: HttpServer, options: WebSocketAttachOptions): void {
    const protocol: 'WS' | 'WSS' = options.secure ? 'WSS' : 'WS';
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false, // flows are tracked here
      perMessageDeflate: false,
      maxPayload: this.options.maxMessageBytes,
      handleProtocols: (protocols) => (protocols.has('sip') ? 'sip' : false),
    });
    this.listening.set(protocol, { host: options.host, port: options.port });
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      const url = request.url ?? '';
      if (url.split('?')[0] !== options.path) return; // not ours: another upgrade handler may take it
      const offered = String(request.headers['sec-websocket-protocol'] ?? '').split(',').map((s) => s.trim());
      if (!offered.includes('sip')) {
        socket.end('HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n\r\nWebSocket subprotocol "sip" required (RFC 7118)\n');
        return;
      }
      const address = this.clientAddressOf(request, socket as net.Socket, options.clientAddress);
      if (!this.admitFlow(address)) {
        socket.end('HTTP/1.1 503 Service Unavailable\r\n\r\n');
        return;
      }
      void Promise.resolve(options.authenticate ? options.authenticate(request) : undefined).then(
        (identity) => {
          if (identity === false) {
            this.releaseFlow(address);
            socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\n\r\nSign in first\n');
            return;
          }
          this.wss!.handleUpgrade(request, socket, head, (ws: WebSocket) => {
            const flow = new WebSocketFlow(protocol, ws, address, (socket as net.Socket).remotePort ?? 0, this, {
              maxMessageBytes: this.options.maxMessageBytes,
            });
            if (identity) flow.identity = identity;
            this.track(flow, address);
          });
        },
        (err: unknown) => {
          this.releaseFlow(address);
          if (err instanceof UpgradeRefused) {
            socket.end(`HTTP/1.1 ${err.status} ${err.statusText}\r\nContent-Type: text/plain\r\n\r\n${err.message}\n`);
            return;
          }
          this.log.warn({ err }, 'WebSocket authentication failed');
          socket.end('HTTP/1.1 500 Internal Server Error\r\n\r\n');
        },
      );
    });
  }

  /** The WebSocket client's address: as the reverse proxy reported it when configured, else the TCP peer. */
  private clientAddressOf(request: IncomingMessage, socket: net.Socket, clientAddress: WebSocketAttachOptions['clientAddress']): string {
    const peer = normalizeAddress(socket.remoteAddress ?? '');
    if (!clientAddress) return peer;
    try {
      const reported = normalizeAddress(clientAddress(request));
      return reported === '' ? peer : reported;
    } catch (err) {
      this.log.warn({ err, peer }, 'could not read the client address of a WebSocket upgrade; using the peer');
      return peer;
    }
  }

  private accept(protocol: 'TCP' | 'TLS', socket: net.Socket): void {
    const address = normalizeAddress(socket.remoteAddress ?? '');
    if (!this.admitFlow(address)) {
      socket.destroy();
      return;
    }
    const flow = new StreamFlow(protocol, socket, this, {
      maxMessageBytes: this.options.maxMessageBytes,
      connected: true,
    });
    this.track(flow, address);
    this.flowsByPeer.set(`${protocol}:${flow.remoteAddress}:${flow.remotePort}`, flow);
  }

  private admitFlow(address: string): boolean {
    const n = this.flowsPerAddress.get(address) ?? 0;
    if (n >= this.options.maxFlowsPerAddress) {
      this.log.warn({ address, open: n }, 'connection refused: too many from this address');
      return false;
    }
    this.flowsPerAddress.set(address, n + 1);
    return true;
  }

  private releaseFlow(address: string): void {
    const n = (this.flowsPerAddress.get(address) ?? 1) - 1;
    if (n <= 0) this.flowsPerAddress.delete(address);
    else this.flowsPerAddress.set(address, n);
  }

  private track(flow: Flow, address: string): void {
    this.flows.set(flow.id, flow);
    this.stats.flows = this.flows.size;
    flow.on('close', () => {
      this.flows.delete(flow.id);
      this.stats.flows = this.flows.size;
      const key = `${flow.protocol}:${flow.remoteAddress}:${flow.remotePort}`;
      if (this.flowsByPeer.get(key) === flow) this.flowsByPeer.delete(key);
      this.releaseFlow(address);
    });
  }

  // ---------------------------------------------------------------- receiving

  onFlowMessage(flow: Flow, bytes: Buffer): void {
    this.receive(bytes, { protocol: flow.protocol, address: flow.remoteAddress, port: flow.remotePort, flow });
  }

  onFlowError(flow: Flow, reason: string): void {
    this.stats.parseErrors++;
    this.log.info({ flow: flow.id, reason }, 'closing connection: unframeable input');
    if (reason.includes('too large')) flow.send(Buffer.from(`SIP/2.0 513 Message Too Large\r\nContent-Length: 0\r\n\r\n`));
  }

  /** Handles bytes that arrived from `source` (the listeners call this; so can a test or a bench). */
  receive(bytes: Buffer, source: Source): void {
    this.stats.received++;
    let message: AnySipMessage;
    try {
      message = parseMessage(bytes, { stream: source.protocol === 'TCP' || source.protocol === 'TLS', maxBytes: this.options.maxMessageBytes });
    } catch (err) {
      this.stats.parseErrors++;
      // Error replies count against the rate limit too: otherwise malformed requests from spoofed
      // sources would be answered without any limit.
      if (!this.withinRate(source.address)) {
        this.stats.rateLimited++;
        return;
      }
      const e = err instanceof SipMessageError ? err : new SipMessageError('unparseable message', 400);
      this.log.info({ source: describe(source), status: e.status, reason: e.message }, 'malformed SIP message');
      const partial = e.partial ?? (e.status === 513 ? this.headersOfOversized(bytes) : undefined);
      if (partial) this.replyToPartial(partial, e.status, e.message, source);
      return;
    }
    if (message.isRequest) {
      if (!this.withinRate(source.address)) {
        this.stats.rateLimited++;
        // Answer the first excess requests so a legitimate client backs off; drop the rest silently.
        if (this.stats.rateLimited % 50 === 1) {
          this.log.warn({ source: describe(source) }, 'rate limit: requests dropped from this address');
          this.replyToPartial({ method: message.method, headers: message.headers }, 503, 'Rate limit exceeded', source, { 'Retry-After': '5' });
        }
        return;
      }
      try {
        const via = message.topVia;
        if (stampReceived(via, source)) message.updateTopVia(via);
      } catch {
        return;
      }
    }
    try {
      this.delegate?.onMessage(message, source);
    } catch (err) {
      // A bug above must never take the listener down with it.
      this.log.warn({ err, source: describe(source) }, 'error handling SIP message');
    }
  }

  private withinRate(address: string): boolean {
    const limit = this.options.rateLimitPerSource;
    if (limit <= 0) return true;
    const now = Date.now();
    let b = this.buckets.get(address);
    if (!b) {
      if (this.buckets.size >= this.options.maxTrackedSources) {
        b = this.overflowBucket;
      } else {
        b = { tokens: limit * 2, at: now };
        this.buckets.set(address, b);
      }
    }
    b.tokens = Math.min(limit * 2, b.tokens + ((now - b.at) / 1000) * limit);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** A bucket that has had time to fill up again says nothing a fresh one would not: drop it. */
  private forgetRefilledBuckets(): void {
    const limit = this.options.rateLimitPerSource;
    if (limit <= 0) return;
    const refilledBefore = Date.now() - 2_000; // a bucket holds 2 s of the rate
    for (const [address, b] of this.buckets) if (b.at < refilledBefore) this.buckets.delete(address);
  }

  /** Addresses whose request rate is being tracked (bounded by `maxTrackedSources`). */
  get trackedSources(): number {
    return this.buckets.size;
  }

  /** An oversized request still deserves its 513 (a datagram is at most 64 KB, so reading it is bounded). */
  private headersOfOversized(bytes: Buffer): PartialRequest | undefined {
    try {
      const m = parseMessage(bytes, { maxBytes: Number.MAX_SAFE_INTEGER });
      return m.isRequest ? { method: m.method, headers: m.headers } : undefined;
    } catch (err) {
      return err instanceof SipMessageError ? err.partial : undefined;
    }
  }

  /** A response built from what could be read of a bad request (never to an ACK). */
  private replyToPartial(partial: PartialRequest, status: number, reason: string, source: Source, extra: Record<string, string> = {}): void {
    if (partial.method === 'ACK') return;
    const copy = (name: string) => partial.headers.filter((h) => h.name === name);
    // A client matches a response by its Via branch and CSeq (RFC 3261 §17.1.3): without them, drop.
    if (copy('Via').length === 0 || copy('CSeq').length === 0) return;
    const response = new SipResponse(status, `${REASON_PHRASES[status] ?? 'Error'}`);
    for (const name of ['Via', 'From', 'To', 'Call-ID', 'CSeq']) response.headers.push(...copy(name));
    response.setHeader('Warning', `399 ringside "${reason.replace(/["\\\r\n]/g, ' ').slice(0, 200)}"`);
    for (const [k, v] of Object.entries(extra)) response.setHeader(k, v);
    this.sendRaw(response.toBuffer(), { protocol: source.protocol, address: source.address, port: source.port, ...(source.flow ? { flow: source.flow } : {}) });
  }

  // ---------------------------------------------------------------- sending

  /** Sends a message; returns false when it could not be handed to a socket (closed flow, no route). */
  send(message: AnySipMessage, destination: Destination): boolean {
    return this.sendRaw(message.toBuffer(), destination);
  }

  /** Sends bytes already serialised (retransmissions keep bytes, not messages). */
  sendBytes(bytes: Buffer, destination: Destination): boolean {
    return this.sendRaw(bytes, destination);
  }

  private sendRaw(bytes: Buffer, destination: Destination): boolean {
    this.stats.sent++;
    if (destination.flow && !destination.flow.closed) return destination.flow.send(bytes);
    switch (destination.protocol) {
      case 'UDP':
        if (!this.udp) return false;
        // No completion callback: it costs a request object per datagram, and a failed UDP send
        // surfaces as the socket's 'error' event (logged) — UDP delivery is never confirmed anyway.
        this.udp.send(bytes, destination.port, destination.address);
        return true;
      case 'TCP':
      case 'TLS':
        return this.connect(destination.protocol, destination.address, destination.port, destination.tls).send(bytes);
      default:
        // A WebSocket peer (a browser) cannot be connected to: without its flow it is unreachable.
        return false;
    }
  }

  /** An open connection to the peer, reused when there is one (RFC 3261 §18.1.1). */
  connect(protocol: 'TCP' | 'TLS', address: string, port: number, peer: TlsPeer = {}): Flow {
    const key = `${protocol}:${address}:${port}`;
    const existing = this.flowsByPeer.get(key);
    if (existing && !existing.closed) return existing;
    const socket = protocol === 'TLS' ? this.connectTls(address, port, peer) : net.connect({ host: address, port });
    const flow = new StreamFlow(protocol, socket, this, {
      maxMessageBytes: this.options.maxMessageBytes,
      connected: false,
      remoteAddress: address,
      remotePort: port,
    });
    socket.once(protocol === 'TLS' ? 'secureConnect' : 'connect', () => flow.markConnected());
    this.admitFlow(address);
    this.track(flow, address);
    this.flowsByPeer.set(key, flow);
    return flow;
  }

  /**
   * A TLS connection that checks the peer's certificate chain and that it names `servername`
   * (RFC 5922 §7.2), unless verification was explicitly turned off for this peer.
   */
  private connectTls(address: string, port: number, peer: TlsPeer): tls.TLSSocket {
    const verify = peer.verify !== false;
    const servername = peer.servername && !net.isIP(peer.servername) ? peer.servername : undefined;
    if (!verify) {
      this.log.warn({ host: peer.servername ?? address, port }, 'TLS certificate NOT verified (tls_verify: false): anyone on the path can read and change this signalling');
    }
    const socket = tls.connect({
      host: address,
      port,
      ...(servername ? { servername } : {}),
      rejectUnauthorized: verify,
      ...(peer.ca ? { ca: peer.ca } : {}),
      // The name to check is the configured host even though we connect to its resolved address.
      checkServerIdentity: (_host, cert) => tls.checkServerIdentity(peer.servername ?? address, cert),
    });
    socket.once('error', (err) => this.log.warn({ err: err.message, host: peer.servername ?? address, port }, 'outgoing TLS connection failed'));
    return socket;
  }

  async close(): Promise<void> {
    clearInterval(this.sweepTimer);
    for (const flow of [...this.flows.values()]) flow.close('shutting down');
    if (this.wss) this.wss.close();
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    if (this.udp) await new Promise<void>((resolve) => this.udp!.close(() => resolve()));
  }
}

/**
 * RFC 3261 §18.2.1: note where a request really came from in its top Via (`received`), and fill
 * an empty `rport` with the source port (RFC 3581 §4), so responses find the way back through NAT.
 * True when the Via changed.
 */
function stampReceived(via: { host: string; params: Map<string, string | null> }, source: Source): boolean {
  const host = via.host.startsWith('[') ? via.host.slice(1, -1) : via.host;
  let changed = false;
  if (host !== source.address) {
    via.params.set('received', source.address);
    changed = true;
  }
  if (via.params.has('rport')) {
    via.params.set('rport', String(source.port));
    via.params.set('received', source.address);
    changed = true;
  }
  return changed;
}
