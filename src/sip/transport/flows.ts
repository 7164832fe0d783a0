/**
 * Flows: one class per connection kind. A stream flow (TCP, TLS) frames bytes into messages by
 * Content-Length and answers CRLFCRLF keep-alive pings; a WebSocket flow carries one SIP message
 * per WebSocket message (RFC 7118 §4).
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { SipStreamFramer } from '../message/index.ts';
import type { Flow, FlowIdentity, TransportProtocol } from './types.ts';

let nextFlowId = 1;
function flowId(protocol: TransportProtocol): string {
  return `${protocol.toLowerCase()}-${process.pid.toString(36)}-${(nextFlowId++).toString(36)}`;
}

export interface FlowSink {
  onFlowMessage(flow: Flow, bytes: Buffer): void;
  onFlowError(flow: Flow, reason: string): void;
}

export class StreamFlow extends EventEmitter implements Flow {
  readonly id: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  identity?: FlowIdentity;
  lastActivity = Date.now();
  private framer: SipStreamFramer;
  private isClosed = false;
  private pending: Buffer[] = [];
  private connected: boolean;

  constructor(
    readonly protocol: 'TCP' | 'TLS',
    private readonly socket: Socket,
    sink: FlowSink,
    options: { maxMessageBytes: number; connected: boolean; remoteAddress?: string; remotePort?: number },
  ) {
    super();
    this.id = flowId(protocol);
    this.remoteAddress = normalizeAddress(options.remoteAddress ?? socket.remoteAddress ?? '');
    this.remotePort = options.remotePort ?? socket.remotePort ?? 0;
    this.framer = new SipStreamFramer(options.maxMessageBytes);
    this.connected = options.connected;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.lastActivity = Date.now();
      for (const frame of this.framer.push(chunk)) {
        if (frame.kind === 'message') sink.onFlowMessage(this, frame.bytes);
        else if (frame.kind === 'ping') socket.write('\r\n'); // RFC 5626 §4.4.1 pong
        else {
          sink.onFlowError(this, frame.reason);
          this.close(frame.reason);
          return;
        }
      }
    });
    socket.on('error', () => this.close('socket error'));
    socket.on('close', () => this.close('closed by peer'));
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Outgoing connections queue until connected. */
  markConnected(): void {
    this.connected = true;
    for (const b of this.pending) this.socket.write(b);
    this.pending = [];
  }

  send(data: Buffer): boolean {
    if (this.isClosed) return false;
    if (!this.connected) this.pending.push(data);
    else this.socket.write(data);
    return true;
  }

  close(reason = 'closed'): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.socket.destroy();
    this.emit('close', reason);
  }
}

export class WebSocketFlow extends EventEmitter implements Flow {
  readonly id: string;
  identity?: FlowIdentity;
  lastActivity = Date.now();
  private isClosed = false;

  constructor(
    readonly protocol: 'WS' | 'WSS',
    private readonly ws: WebSocket,
    readonly remoteAddress: string,
    readonly remotePort: number,
    sink: FlowSink,
    options: { maxMessageBytes: number },
  ) {
    super();
    this.id = flowId(protocol);
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      this.lastActivity = Date.now();
      const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      void isBinary;
      if (bytes.length > options.maxMessageBytes) {
        sink.onFlowError(this, 'message too large');
        this.close('message too large');
        return;
      }
      // A lone CRLFCRLF is a keep-alive ping (RFC 7118 leaves keep-alives to WebSocket pings, but clients send both).
      if (/^(\r\n)+$/.test(bytes.toString('latin1'))) {
        if (bytes.length >= 4) ws.send('\r\n');
        return;
      }
      sink.onFlowMessage(this, bytes);
    });
    ws.on('close', () => this.close('closed by peer'));
    ws.on('error', () => this.close('socket error'));
  }

  get closed(): boolean {
    return this.isClosed;
  }

  send(data: Buffer): boolean {
    if (this.isClosed || this.ws.readyState !== this.ws.OPEN) return false;
    this.ws.send(data.toString('utf8'));
    return true;
  }

  close(reason = 'closed'): void {
    if (this.isClosed) return;
    this.isClosed = true;
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) this.ws.close(1000, reason.slice(0, 100));
    this.emit('close', reason);
  }
}

/** `::ffff:127.0.0.1` → `127.0.0.1`: one spelling per address, for matching. */
export function normalizeAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
