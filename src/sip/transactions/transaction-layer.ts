/**
 * The transaction layer: matches every incoming message to its transaction (RFC 3261 §17.1.3,
 * §17.2.3, with the RFC 2543 rules for branches without the magic cookie), creates server
 * transactions for new requests, answers CANCEL, and passes to the transaction user only what
 * belongs to it: new requests, ACKs of 2xx, and responses no transaction claims.
 */
import { createResponse, newBranch, type AnySipMessage, type SipRequest, type SipResponse } from '../message/index.ts';
import type { Destination, Source } from '../transport/index.ts';
import { InviteClientTransaction, NonInviteClientTransaction, type ClientTransactionUser } from './client-transactions.ts';
import { InviteServerTransaction, NonInviteServerTransaction, type ServerTransaction } from './server-transactions.ts';
import { DEFAULT_TIMERS, type TimerConfig, type TransactionTransport } from './transaction.ts';

export interface TransactionUser {
  /** A new request (never ACK or CANCEL): answer it through the transaction. */
  onRequest(transaction: ServerTransaction): void;
  /** An ACK that matched no transaction: the ACK of a 2xx, for the dialog layer. */
  onAck(ack: SipRequest, source: Source): void;
  /** A response no client transaction claims (a 2xx retransmitted after the transaction ended). */
  onStrayResponse?(response: SipResponse, source: Source): void;
}

export type ClientTransaction = InviteClientTransaction | NonInviteClientTransaction;

export class TransactionLayer {
  user: TransactionUser | undefined;
  private readonly servers = new Map<string, ServerTransaction>();
  private readonly clients = new Map<string, ClientTransaction>();
  readonly timers: TimerConfig;

  constructor(
    private readonly transport: TransactionTransport,
    timers: Partial<TimerConfig> = {},
  ) {
    this.timers = { ...DEFAULT_TIMERS, ...timers };
  }

  get size(): { servers: number; clients: number } {
    return { servers: this.servers.size, clients: this.clients.size };
  }

  // ---------------------------------------------------------------- receiving

  receive(message: AnySipMessage, source: Source): void {
    if (message.isRequest) this.receiveRequest(message, source);
    else this.receiveResponse(message, source);
  }

  private receiveRequest(request: SipRequest, source: Source): void {
    // A branch that is just the magic cookie identifies nothing (RFC 4475 §3.2.1): refuse it statelessly.
    if (request.topVia.branch === 'z9hG4bK') {
      if (request.method !== 'ACK') this.transport.send(createResponse(request, 400, { reason: 'Missing transaction identifier' }), responseDestination(request, source));
      return;
    }
    const key = serverKey(request, request.method === 'ACK' ? 'INVITE' : request.method);
    const existing = this.servers.get(key);
    if (existing) {
      existing.receiveRequest(request);
      return;
    }
    if (request.method === 'ACK') {
      this.user?.onAck(request, source);
      return;
    }
    if (request.method === 'CANCEL') {
      this.receiveCancel(request, source);
      return;
    }
    const transaction = this.createServer(request, source, key);
    this.user?.onRequest(transaction);
  }

  /** §9.2: CANCEL gets its own answer; the INVITE it names, if still pending, is told. */
  private receiveCancel(cancel: SipRequest, source: Source): void {
    const invite = this.servers.get(serverKey(cancel, 'INVITE'));
    const transaction = this.createServer(cancel, source, serverKey(cancel, 'CANCEL'));
    if (!invite || !(invite instanceof InviteServerTransaction)) {
      transaction.respond(createResponse(cancel, 481));
      return;
    }
    // The To tag of the CANCEL's 200 must be that of responses to the INVITE (§9.2).
    transaction.respond(createResponse(cancel, 200, { toTag: invite.localTag }));
    invite.cancel(cancel);
  }

  private createServer(request: SipRequest, source: Source, key: string): ServerTransaction {
    const destination = responseDestination(request, source);
    const transaction =
      request.method === 'INVITE'
        ? new InviteServerTransaction(key, request, source, destination, this.transport, this.timers)
        : new NonInviteServerTransaction(key, request, source, destination, this.transport, this.timers);
    this.servers.set(key, transaction);
    transaction.on('terminated', () => {
      if (this.servers.get(key) === transaction) this.servers.delete(key);
    });
    return transaction;
  }

  private receiveResponse(response: SipResponse, source: Source): void {
    const via = response.vias[0];
    if (!via?.branch) return;
    const transaction = this.clients.get(clientKey(via.branch, response.cseq.method));
    if (transaction) {
      transaction.receiveResponse(response);
      return;
    }
    this.user?.onStrayResponse?.(response, source);
  }

  // ---------------------------------------------------------------- sending

  /**
   * Starts a client transaction for `request`, whose top Via this layer sets (a fresh branch
   * unless one is given — CANCEL reuses its INVITE's).
   */
  request(request: SipRequest, destination: Destination, user: ClientTransactionUser, via: { sentBy: string; branch?: string }): ClientTransaction {
    const branch = via.branch ?? newBranch();
    const transport = destination.protocol;
    request.prependHeader('Via', `SIP/2.0/${transport} ${via.sentBy};branch=${branch};rport`);
    const key = clientKey(branch, request.method);
    const transaction =
      request.method === 'INVITE'
        ? new InviteClientTransaction(key, request, destination, this.transport, this.timers, user)
        : new NonInviteClientTransaction(key, request, destination, this.transport, this.timers, user);
    this.clients.set(key, transaction);
    transaction.on('terminated', () => {
      if (this.clients.get(key) === transaction) this.clients.delete(key);
    });
    transaction.start();
    return transaction;
  }

  /** ACK of a 2xx and other messages sent outside any transaction. */
  sendStateless(message: AnySipMessage, destination: Destination): boolean {
    return this.transport.send(message, destination);
  }

  close(): void {
    for (const t of [...this.servers.values(), ...this.clients.values()]) t.dispose();
    this.servers.clear();
    this.clients.clear();
  }
}

function clientKey(branch: string, method: string): string {
  return `${branch}|${method === 'ACK' ? 'INVITE' : method}`;
}

/**
 * §17.2.3: with the magic cookie, branch + sent-by + method identify the transaction; without it,
 * the RFC 2543 rule — Request-URI, tags, Call-ID, CSeq and top Via together.
 */
function serverKey(request: SipRequest, method: string): string {
  const via = request.topVia;
  if (via.isRfc3261Branch) return `${via.branch}|${via.sentBy}|${method}`;
  const uri = method === 'INVITE' || method === 'CANCEL' || method === request.method ? request.uri.toString() : '';
  return `2543|${uri}|${request.from.tag ?? ''}|${request.callId}|${request.cseq.seq}|${via.toString().replace(/;received=[^;]*|;rport=\d*/g, '')}|${method}`;
}

/**
 * §18.2.2: where responses to this request go — back on its connection for reliable transports.
 * Over UDP, always to the address and port the request came from ("symmetric response routing",
 * RFC 3581 applied whether or not the client asked with `rport`, as Kamailio's force_rport does):
 * phones behind NAT are reachable only there, and a Via naming an address we never heard from is
 * not a place to send packets to.
 */
export function responseDestination(_request: SipRequest, source: Source): Destination {
  return { protocol: source.protocol, address: source.address, port: source.port, ...(source.flow ? { flow: source.flow } : {}) };
}
