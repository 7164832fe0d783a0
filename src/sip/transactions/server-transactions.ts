/**
 * Server transactions: INVITE (RFC 3261 §17.2.1, with RFC 6026's Accepted state) and non-INVITE
 * (§17.2.2). They absorb retransmitted requests (answering with the last response), retransmit
 * final INVITE failures until ACKed, and hand CANCEL to their user.
 */
import { createResponse, randomToken, type SipRequest, type SipResponse } from '../message/index.ts';
import type { Destination, Source } from '../transport/index.ts';
import { Transaction, type TimerConfig, type TransactionTransport } from './transaction.ts';

export type InviteServerState = 'Proceeding' | 'Completed' | 'Confirmed' | 'Accepted' | 'Terminated';

// https://www.rfc-editor.org/rfc/rfc6026#section-7.1 (Figure 7)
const IST_LEGAL: Record<InviteServerState, readonly InviteServerState[]> = {
  Proceeding: ['Completed', 'Accepted', 'Terminated'],
  Completed: ['Confirmed', 'Terminated'],
  Confirmed: ['Terminated'],
  Accepted: ['Terminated'],
  Terminated: [],
};

export class InviteServerTransaction extends Transaction<InviteServerState> {
  /** The last response sent, as bytes, to answer a retransmitted INVITE. */
  private lastResponse: Buffer | undefined;
  private trying: NodeJS.Timeout | undefined;
  /** Set when the caller CANCELled; the user answers 487. */
  cancelled = false;
  /**
   * Answer a failure once and keep nothing (RFC 3261 §8.2.7, a stateless UAS): set by the TU for
   * sources that have not authenticated, so a spoofed INVITE gets one 407, not eleven (Timer G),
   * and costs no state for 64*T1. Provisional and 2xx responses are unaffected.
   */
  stateless = false;
  /**
   * The To tag of every response the UAS sends to this INVITE, so the 200 to a CANCEL carries the
   * same one (§9.2) — the user must use it.
   */
  readonly localTag = randomToken();

  constructor(id: string, request: SipRequest, readonly source: Source, destination: Destination, transport: TransactionTransport, config: TimerConfig) {
    super(id, request, destination, transport, config, 'Proceeding', IST_LEGAL);
    // §17.2.1: send 100 Trying if the TU will not answer within 200 ms, to stop INVITE retransmissions.
    this.trying = setTimeout(() => {
      if (!this.lastResponse && this.state === 'Proceeding') this.respondTrying();
    }, 200);
  }

  get isInvite(): true {
    return true;
  }

  protected isTerminal(state: InviteServerState): boolean {
    return state === 'Terminated';
  }

  private respondTrying(): void {
    this.respond(createResponse(this.request, 100, { toTag: this.localTag }));
  }

  respond(response: SipResponse): void {
    if (this.trying) {
      clearTimeout(this.trying);
      this.trying = undefined;
    }
    const status = response.status;
    switch (this.state) {
      case 'Proceeding':
        this.lastResponse = this.sendKeepingBytes(response);
        if (status >= 200 && status < 300) {
          // The TU (UAS core) retransmits the 2xx until ACKed; we only absorb INVITE retransmissions,
          // and keep nothing else for the 64*T1 that takes.
          this.lastResponse = undefined;
          this.removeAllListeners('cancel');
          this.stateTransition('Accepted');
          this.releaseRequest();
          this.startTimer('L', 64 * this.config.T1, () => this.stateTransition('Terminated'));
        } else if (status >= 300 && this.stateless) {
          this.releaseRequest();
          this.stateTransition('Terminated');
        } else if (status >= 300) {
          this.stateTransition('Completed');
          this.releaseRequest();
          if (!this.reliable) this.scheduleG(this.config.T1);
          this.startTimer('H', 64 * this.config.T1, () => {
            this.stateTransition('Terminated');
            this.emit('ackTimeout');
          });
        }
        break;
      case 'Accepted':
        // 2xx retransmissions from the TU pass through (RFC 6026 §8.5).
        if (status >= 200 && status < 300) this.send(response);
        break;
      default:
        break; // a second final response is a TU bug; the RFC allows only one
    }
  }

  private scheduleG(interval: number): void {
    this.startTimer('G', interval, () => {
      if (this.state !== 'Completed' || !this.lastResponse) return;
      this.resend(this.lastResponse);
      this.scheduleG(Math.min(interval * 2, this.config.T2));
    });
  }

  /** A retransmitted INVITE, or the ACK of a failure (same branch). */
  receiveRequest(request: SipRequest): void {
    if (request.method === 'ACK') {
      if (this.state === 'Completed') {
        this.stateTransition('Confirmed');
        this.stopTimer('G');
        this.stopTimer('H');
        // Timer I: absorb ACK retransmissions for T4 on unreliable transports.
        this.startTimer('I', this.reliable ? 0 : this.config.T4, () => this.stateTransition('Terminated'));
      }
      return;
    }
    if ((this.state === 'Proceeding' || this.state === 'Completed') && this.lastResponse) this.resend(this.lastResponse);
  }

  /** The caller's CANCEL matched this INVITE. */
  cancel(cancelRequest: SipRequest): void {
    if (this.state !== 'Proceeding' || this.cancelled) return;
    this.cancelled = true;
    this.emit('cancel', cancelRequest);
  }

  override dispose(): void {
    if (this.trying) clearTimeout(this.trying);
    super.dispose();
  }

  override on(event: 'cancel', listener: (cancel: SipRequest) => void): this;
  override on(event: 'terminated' | 'ackTimeout', listener: () => void): this;
  override on(event: string, listener: (...args: any[]) => void): this {
    return super.on(event, listener);
  }
}

export type NonInviteServerState = 'Trying' | 'Proceeding' | 'Completed' | 'Terminated';

// https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2 (Figure 8)
const NIST_LEGAL: Record<NonInviteServerState, readonly NonInviteServerState[]> = {
  Trying: ['Proceeding', 'Completed', 'Terminated'],
  Proceeding: ['Completed', 'Terminated'],
  Completed: ['Terminated'],
  Terminated: [],
};

export class NonInviteServerTransaction extends Transaction<NonInviteServerState> {
  /** The last response sent, as bytes, to answer a retransmitted request. */
  private lastResponse: Buffer | undefined;
  /**
   * Send the final response once and keep nothing (RFC 3261 §8.2.7): set by the TU for sources
   * that have not authenticated; a retransmitted request is then simply a new one.
   */
  stateless = false;

  constructor(id: string, request: SipRequest, readonly source: Source, destination: Destination, transport: TransactionTransport, config: TimerConfig) {
    super(id, request, destination, transport, config, 'Trying', NIST_LEGAL);
  }

  get isInvite(): false {
    return false;
  }

  protected isTerminal(state: NonInviteServerState): boolean {
    return state === 'Terminated';
  }

  respond(response: SipResponse): void {
    if (this.state === 'Completed' || this.state === 'Terminated') return;
    if (response.status >= 200 && this.stateless) {
      this.send(response);
      this.releaseRequest();
      this.stateTransition('Terminated');
      return;
    }
    this.lastResponse = this.sendKeepingBytes(response);
    if (response.status < 200) {
      if (this.state === 'Trying') this.stateTransition('Proceeding');
      return;
    }
    this.stateTransition('Completed');
    this.releaseRequest();
    // Timer J: absorb request retransmissions for 64*T1 on unreliable transports.
    this.startTimer('J', this.reliable ? 0 : 64 * this.config.T1, () => this.stateTransition('Terminated'));
  }

  receiveRequest(): void {
    if ((this.state === 'Proceeding' || this.state === 'Completed') && this.lastResponse) this.resend(this.lastResponse);
  }
}

export type ServerTransaction = InviteServerTransaction | NonInviteServerTransaction;
