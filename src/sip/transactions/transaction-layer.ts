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
  /**
   * A request that would start a server transaction, before one exists: false drops it (a blocked
   * source), so what the TU refuses here costs no state at all.
   */
  admit?(request: SipRequest, source: Source): boolean;
  /** A new request (never ACK or CANCEL): answer it through the transaction. */
  onRequest(transaction: ServerTransaction): void;
  /** An ACK that matched no transaction: the ACK of a 2xx, for the dialog layer. */
  onAck(ack: SipRequest, source: Source): void;
  /** A response no client transaction claims (a 2xx retransmitted after the transaction ended). */
  onStrayResponse?(response: SipResponse, source: Source): void;
}

export type ClientTransaction = InviteClientTransaction | NonInviteClientTransaction;

export interface TransactionLimits {
  /**
   * Server transactions alive at once; a new request beyond it gets a stateless 503. Default
   * 300,000: 3,000 calls/s × 32 s (64*T1) × about 3 server transactions a call (INVITE, BYE, and
   * a CANCEL, re-INVITE or REGISTER refresh).
   */
  maxServerTransactions?: number;
  /**
   * Hard lifetime of an INVITE server transaction, whatever the TU does (default 64*T1 + 3 min,
   * RFC 3261's Timer C): it must cover the longest ringing plus the 64*T1 that follow an answer.
   */
  inviteLifetimeMs?: number;
}

export const DEFAULT_MAX_SERVER_TRANSACTIONS = 300_000;

export interface TransactionLayerStats {
  /** New requests refused because the server-transaction table was full (503). */
  overloaded: number;
  /** Server transactions ended by their hard lifetime (the TU never finished them). */
  expired: number;
}

export class TransactionLayer {
  user: TransactionUser | undefined;
  readonly stats: TransactionLayerStats = { overloaded: 0, expired: 0 };
  /** In creation order (Map keeps insertion order), which lets the lifetime sweep stop at the first young one. */
  private readonly servers = new Map<string, ServerTransaction>();
  private readonly clients = new Map<string, ClientTransaction>();
  readonly timers: TimerConfig;
  private readonly maxServers: number;
  /** A non-INVITE server transaction lives at most 128*T1: 64*T1 for the TU to answer (the client gives up then, Timer F), 64*T1 of Timer J. */
  private readonly nonInviteLifetimeMs: number;
  private readonly inviteLifetimeMs: number;
  private readonly sweepTimer: NodeJS.Timeout;

  constructor(
    private readonly transport: TransactionTransport,
    timers: Partial<TimerConfig> = {},
    limits: TransactionLimits = {},
  ) {
    this.timers = { ...DEFAULT_TIMERS, ...timers };
    this.maxServers = limits.maxServerTransactions ?? DEFAULT_MAX_SERVER_TRANSACTIONS;
    this.nonInviteLifetimeMs = 128 * this.timers.T1;
    this.inviteLifetimeMs = Math.max(this.nonInviteLifetimeMs, limits.inviteLifetimeMs ?? 64 * this.timers.T1 + 180_000);
    // One sweep for all (a hard-lifetime timer per transaction would cost an allocation per request).
    this.sweepTimer = setInterval(() => this.expireOld(), Math.max(50, this.nonInviteLifetimeMs / 8)).unref();
  }

  get size(): { servers: number; clients: number } {
    return { servers: this.servers.size, clients: this.clients.size };
  }

  /**
   * Ends server transactions older than their hard lifetime. The table is in creation order, so
   * the walk stops at the first transaction younger than the shortest lifetime.
   */
  private expireOld(): void {
    const now = Date.now();
    for (const transaction of this.servers.values()) {
      const age = now - transaction.createdAt;
      if (age < this.nonInviteLifetimeMs) break;
      if (age >= (transaction.isInvite ? this.inviteLifetimeMs : this.nonInviteLifetimeMs)) {
        this.stats.expired++;
        transaction.expire(); // 'terminated' removes it from the table (deleting while iterating a Map is safe)
      }
    }
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
    if (this.user?.admit && !this.user.admit(request, source)) return;
    if (this.servers.size >= this.maxServers) {
      // Overload (or a flood of spoofed sources): refuse statelessly rather than grow without bound.
      this.stats.overloaded++;
      this.transport.send(createResponse(request, 503, { reason: 'Server overloaded' }).setHeader('Retry-After', '5'), responseDestination(request, source));
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
    clearInterval(this.sweepTimer);
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
