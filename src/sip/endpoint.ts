/**
 * A SIP endpoint: the transport layer and the transaction layer joined, with the few things every
 * user agent core needs on top — our Via sent-by and Contact per transport, Max-Forwards and
 * User-Agent on new requests, and stateless sending (the ACK of a 2xx).
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { TlsOptions } from 'node:tls';
import { newBranch, type AnySipMessage, type SipRequest, type SipUri } from './message/index.ts';
import { TransactionLayer, type ClientTransaction, type ClientTransactionUser, type TimerConfig, type TransactionLimits, type TransactionUser } from './transactions/index.ts';
import { TransportLayer, type Destination, type TransportOptions, type TransportProtocol } from './transport/index.ts';

export interface SipEndpointOptions {
  transport?: TransportOptions;
  timers?: Partial<TimerConfig>;
  /** Caps on the server-transaction table and hard lifetimes. */
  limits?: TransactionLimits;
  /** Host to put in Via and Contact (the listen address unless set). */
  advertisedHost?: string;
  userAgent?: string;
}

export interface ListenOptions {
  host: string;
  udp?: number;
  tcp?: number;
  tls?: { port: number; options: TlsOptions };
}

export class SipEndpoint {
  readonly transport: TransportLayer;
  readonly transactions: TransactionLayer;
  readonly userAgent: string;
  private advertisedHost: string | undefined;

  constructor(options: SipEndpointOptions = {}) {
    this.transport = new TransportLayer(options.transport);
    this.transactions = new TransactionLayer(this.transport, options.timers, options.limits);
    this.transport.delegate = { onMessage: (message, source) => this.transactions.receive(message, source) };
    this.advertisedHost = options.advertisedHost;
    this.userAgent = options.userAgent ?? 'Ringside';
  }

  set user(user: TransactionUser) {
    this.transactions.user = user;
  }

  /** Opens the listeners; returns the ports actually bound (0 picks a free one). */
  async listen(options: ListenOptions): Promise<{ udp?: number; tcp?: number; tls?: number }> {
    const out: { udp?: number; tcp?: number; tls?: number } = {};
    if (options.udp !== undefined) out.udp = await this.transport.listenUdp(options.host, options.udp);
    if (options.tcp !== undefined) out.tcp = await this.transport.listenTcp(options.host, options.tcp);
    if (options.tls !== undefined) out.tls = await this.transport.listenTls(options.host, options.tls.port, options.tls.options);
    this.advertisedHost ??= options.host === '0.0.0.0' || options.host === '::' ? undefined : options.host;
    return out;
  }

  /** `host:port` of our Via for a transport. */
  sentBy(protocol: TransportProtocol): string {
    const local = this.transport.local(protocol) ?? this.transport.local('UDP');
    const host = this.advertisedHost ?? local?.host ?? '127.0.0.1';
    const shown = isIP(host) === 6 ? `[${host}]` : host;
    return `${shown}:${local?.port ?? 5060}`;
  }

  /** Our Contact URI for requests and responses carried over `protocol`. */
  contact(protocol: TransportProtocol, user?: string): string {
    const transport = protocol === 'UDP' ? '' : `;transport=${protocol.toLowerCase()}`;
    return `<sip:${user ? `${user}@` : ''}${this.sentBy(protocol)}${transport}>`;
  }

  /** Starts a client transaction; adds Max-Forwards and User-Agent when missing. */
  request(request: SipRequest, destination: Destination, user: ClientTransactionUser, branch?: string): ClientTransaction {
    if (!request.hasHeader('Max-Forwards')) request.setHeader('Max-Forwards', '70');
    if (!request.hasHeader('User-Agent')) request.setHeader('User-Agent', this.userAgent);
    return this.transactions.request(request, destination, user, { sentBy: this.sentBy(destination.protocol), ...(branch ? { branch } : {}) });
  }

  /** The ACK of a 2xx: its own transaction-less request, with a fresh branch (§13.2.2.4). */
  sendAck(ack: SipRequest, destination: Destination): boolean {
    if (!ack.hasHeader('Via')) ack.setHeader('Via', `SIP/2.0/${destination.protocol} ${this.sentBy(destination.protocol)};branch=${newBranch()};rport`);
    if (!ack.hasHeader('Max-Forwards')) ack.setHeader('Max-Forwards', '70');
    return this.transactions.sendStateless(ack, destination);
  }

  send(message: AnySipMessage, destination: Destination): boolean {
    return this.transactions.sendStateless(message, destination);
  }

  async close(): Promise<void> {
    this.transactions.close();
    await this.transport.close();
  }
}

/**
 * Where a SIP URI points (RFC 3263, simplified to what Ringside needs): its `transport`
 * parameter (else UDP, or TLS for sips:), its host resolved to an address, its port or the default.
 */
export async function resolveUri(uri: SipUri, fallbackProtocol: TransportProtocol = 'UDP'): Promise<Destination> {
  const param = uri.param('transport');
  const protocol: TransportProtocol =
    uri.scheme === 'sips' ? 'TLS' : param ? (param.toUpperCase() as TransportProtocol) : fallbackProtocol;
  const host = uri.hostname;
  const address = isIP(host) ? host : (await lookup(host)).address;
  return { protocol, address, port: uri.port ?? (protocol === 'TLS' || protocol === 'WSS' ? 5061 : 5060) };
}
