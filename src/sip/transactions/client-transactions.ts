/**
 * Client transactions: INVITE (RFC 3261 §17.1.1, with RFC 6026's Accepted state) and non-INVITE
 * (§17.1.2). The transaction user hears every response it should, a timeout, or a transport error
 * — and nothing twice that the RFC says to absorb.
 */
import { SipRequest, type SipResponse } from '../message/index.ts';
import type { Destination } from '../transport/index.ts';
import { Transaction, type TimerConfig, type TransactionTransport } from './transaction.ts';

export interface ClientTransactionUser {
  /** Provisional and final responses; for INVITE also every 2xx (retransmissions, other forks). */
  onResponse(response: SipResponse): void;
  /** Timer B / F fired: treat as 408. */
  onTimeout(): void;
  /** The request could not be sent (closed flow, no route): treat as 503. */
  onTransportError(): void;
}

export type InviteClientState = 'Calling' | 'Proceeding' | 'Completed' | 'Accepted' | 'Terminated';

// https://www.rfc-editor.org/rfc/rfc6026#section-7.2 (Figure 5)
const ICT_LEGAL: Record<InviteClientState, readonly InviteClientState[]> = {
  Calling: ['Proceeding', 'Completed', 'Accepted', 'Terminated'],
  Proceeding: ['Completed', 'Accepted', 'Terminated'],
  Completed: ['Terminated'],
  Accepted: ['Terminated'],
  Terminated: [],
};

export class InviteClientTransaction extends Transaction<InviteClientState> {
  private ackForFailure: Buffer | undefined;

  constructor(id: string, request: SipRequest, destination: Destination, transport: TransactionTransport, config: TimerConfig, private readonly user: ClientTransactionUser) {
    super(id, request, destination, transport, config, 'Calling', ICT_LEGAL);
  }

  protected isTerminal(state: InviteClientState): boolean {
    return state === 'Terminated';
  }

  start(): void {
    if (!this.send(this.request)) {
      this.failTransport();
      return;
    }
    // Timer A: retransmit over unreliable transports, T1, 2T1, 4T1 … (§17.1.1.2).
    if (!this.reliable) this.scheduleA(this.config.T1);
    // Timer B: give up after 64*T1 without any response. Once a provisional arrived (Proceeding)
    // the callee is ringing and only the TU's CANCEL ends the wait (§17.1.1.2).
    this.startTimer('B', 64 * this.config.T1, () => {
      if (this.state === 'Calling') {
        this.stateTransition('Terminated');
        this.user.onTimeout();
      }
    });
  }

  private scheduleA(interval: number): void {
    this.startTimer('A', interval, () => {
      if (this.state !== 'Calling') return;
      if (!this.send(this.request)) return this.failTransport();
      this.scheduleA(interval * 2);
    });
  }

  receiveResponse(response: SipResponse): void {
    const status = response.status;
    switch (this.state) {
      case 'Calling':
      case 'Proceeding':
        if (status < 200) {
          this.stopTimer('A');
          if (this.state === 'Calling') this.stateTransition('Proceeding');
          this.user.onResponse(response);
        } else if (status < 300) {
          // RFC 6026 §8.4: 2xx moves to Accepted; the TU sends the ACK and gets later 2xx too.
          this.stateTransition('Accepted');
          this.releaseRequest();
          this.startTimer('M', 64 * this.config.T1, () => this.stateTransition('Terminated'));
          this.user.onResponse(response);
        } else {
          this.stateTransition('Completed');
          this.sendAck(response);
          this.releaseRequest();
          // Timer D: absorb response retransmissions, "at least 32 s" on unreliable transports — 64*T1 is
          // exactly that at the default T1, and shrinks with T1 in tests.
          this.startTimer('D', this.reliable ? 0 : 64 * this.config.T1, () => this.stateTransition('Terminated'));
          this.user.onResponse(response);
        }
        break;
      case 'Completed':
        if (status >= 300) this.sendAck(response); // retransmitted final: ACK again, TU not told
        break;
      case 'Accepted':
        if (status >= 200 && status < 300) this.user.onResponse(response);
        break;
      case 'Terminated':
        break;
    }
  }

  /** ACK for a non-2xx final response is part of the transaction (§17.1.1.3). */
  private sendAck(response: SipResponse): void {
    if (this.ackForFailure) {
      this.resend(this.ackForFailure);
      return;
    }
    const request = this.request;
    const ack = new SipRequest('ACK', request.uri);
    for (const name of ['Via', 'Route', 'From', 'Call-ID', 'Max-Forwards']) {
      if (name === 'Via') ack.setHeader('Via', request.vias[0]!.toString());
      else for (const v of request.headerValues(name)) ack.addHeader(name, v);
    }
    ack.setHeader('To', response.header('To') ?? request.header('To')!);
    ack.setHeader('CSeq', `${request.cseq.seq} ACK`);
    this.ackForFailure = this.sendKeepingBytes(ack);
  }

  private failTransport(): void {
    if (this.state === 'Terminated') return;
    this.stateTransition('Terminated');
    this.user.onTransportError();
  }
}

export type NonInviteClientState = 'Trying' | 'Proceeding' | 'Completed' | 'Terminated';

// https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2 (Figure 6)
const NICT_LEGAL: Record<NonInviteClientState, readonly NonInviteClientState[]> = {
  Trying: ['Proceeding', 'Completed', 'Terminated'],
  Proceeding: ['Completed', 'Terminated'],
  Completed: ['Terminated'],
  Terminated: [],
};

export class NonInviteClientTransaction extends Transaction<NonInviteClientState> {
  constructor(id: string, request: SipRequest, destination: Destination, transport: TransactionTransport, config: TimerConfig, private readonly user: ClientTransactionUser) {
    super(id, request, destination, transport, config, 'Trying', NICT_LEGAL);
  }

  protected isTerminal(state: NonInviteClientState): boolean {
    return state === 'Terminated';
  }

  start(): void {
    if (!this.send(this.request)) {
      this.failTransport();
      return;
    }
    // Timer E: retransmit at T1, doubling up to T2 (in Proceeding: every T2).
    if (!this.reliable) this.scheduleE(this.config.T1);
    // Timer F: give up after 64*T1.
    this.startTimer('F', 64 * this.config.T1, () => {
      if (this.state === 'Trying' || this.state === 'Proceeding') {
        this.stateTransition('Terminated');
        this.user.onTimeout();
      }
    });
  }

  private scheduleE(interval: number): void {
    this.startTimer('E', interval, () => {
      if (this.state !== 'Trying' && this.state !== 'Proceeding') return;
      if (!this.send(this.request)) return this.failTransport();
      this.scheduleE(this.state === 'Proceeding' ? this.config.T2 : Math.min(interval * 2, this.config.T2));
    });
  }

  receiveResponse(response: SipResponse): void {
    if (this.state !== 'Trying' && this.state !== 'Proceeding') return; // Completed absorbs retransmissions
    if (response.status < 200) {
      if (this.state === 'Trying') this.stateTransition('Proceeding');
      this.user.onResponse(response);
      return;
    }
    this.stateTransition('Completed');
    this.releaseRequest();
    this.stopTimer('E');
    this.stopTimer('F');
    // Timer K: T4 on unreliable transports to absorb retransmitted responses.
    this.startTimer('K', this.reliable ? 0 : this.config.T4, () => this.stateTransition('Terminated'));
    this.user.onResponse(response);
  }

  private failTransport(): void {
    if (this.state === 'Terminated') return;
    this.stateTransition('Terminated');
    this.user.onTransportError();
  }
}
