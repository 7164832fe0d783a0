/**
 * What every transaction shares: its timers (RFC 3261 §17, Table 4 of §A), the transport it sends
 * on, and a strict state machine — each kind declares its states and legal transitions, and
 * `stateTransition` throws on any other, so the code can be checked against the RFC's figures.
 */
import { EventEmitter } from 'node:events';
import type { AnySipMessage, SipRequest } from '../message/index.ts';
import { RELIABLE, type Destination } from '../transport/index.ts';

/** RFC 3261 timer values. T1 is configurable so tests can run the full retransmission ladder fast. */
export interface TimerConfig {
  /** RTT estimate, default 500 ms. */
  T1: number;
  /** Longest retransmit interval for non-INVITE requests and INVITE responses, default 4 s. */
  T2: number;
  /** Longest time a message stays in the network, default 5 s. */
  T4: number;
}

export const DEFAULT_TIMERS: TimerConfig = { T1: 500, T2: 4000, T4: 5000 };

/** Sends a serialised message; false when no socket could take it (transport error). */
export interface TransactionTransport {
  send(message: AnySipMessage, destination: Destination): boolean;
  /** Sends bytes already serialised (retransmissions). */
  sendBytes(bytes: Buffer, destination: Destination): boolean;
}

export abstract class Transaction<State extends string> extends EventEmitter {
  private timers = new Map<string, NodeJS.Timeout>();
  protected currentState: State;
  private requestRef: SipRequest | undefined;
  /** When the transaction began (ms since epoch): the transaction layer ends any that outlive their hard lifetime. */
  readonly createdAt = Date.now();

  constructor(
    readonly id: string,
    request: SipRequest,
    readonly destination: Destination,
    protected readonly transport: TransactionTransport,
    protected readonly config: TimerConfig,
    initial: State,
    private readonly legal: Record<State, readonly State[]>,
  ) {
    super();
    this.currentState = initial;
    this.requestRef = request;
  }

  /** The request that created the transaction, while the transaction still needs it. */
  get request(): SipRequest {
    if (!this.requestRef) throw new Error(`${this.constructor.name} ${this.id} no longer holds its request`);
    return this.requestRef;
  }

  /**
   * Drops the request when the transaction only absorbs retransmissions (Accepted, Completed,
   * Confirmed): those states last 64*T1, and at a thousand calls a second the messages they would
   * keep are most of the server's memory. What they still resend they keep as bytes.
   */
  protected releaseRequest(): void {
    this.requestRef = undefined;
  }

  get state(): State {
    return this.currentState;
  }

  protected get reliable(): boolean {
    return RELIABLE.has(this.destination.protocol);
  }

  /** The only way the state changes: an illegal move is a bug, not something to carry on from. */
  protected stateTransition(next: State): void {
    if (!this.legal[this.currentState].includes(next)) {
      throw new Error(`${this.constructor.name} ${this.id}: invalid transition ${this.currentState} → ${next}`);
    }
    this.currentState = next;
    if (this.isTerminal(next)) {
      this.clearTimers();
      this.emit('terminated');
    }
  }

  protected abstract isTerminal(state: State): boolean;

  protected startTimer(name: string, ms: number, fire: () => void): void {
    this.stopTimer(name);
    this.timers.set(
      name,
      setTimeout(() => {
        this.timers.delete(name);
        fire();
      }, ms),
    );
  }

  protected stopTimer(name: string): void {
    const t = this.timers.get(name);
    if (t) {
      clearTimeout(t);
      this.timers.delete(name);
    }
  }

  protected clearTimers(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  protected send(message: AnySipMessage): boolean {
    return this.transport.send(message, this.destination);
  }

  /** Sends a message and returns its bytes, for retransmissions that keep no message. */
  protected sendKeepingBytes(message: AnySipMessage): Buffer {
    const bytes = message.toBuffer();
    this.transport.sendBytes(bytes, this.destination);
    return bytes;
  }

  /** Resends bytes kept from an earlier send (a final response, an ACK). */
  protected resend(bytes: Buffer): boolean {
    return this.transport.sendBytes(bytes, this.destination);
  }

  /**
   * Ends the transaction now, whatever its state: it outlived its hard lifetime (a TU that never
   * answered must not hold a request forever). Every state may move to Terminated.
   */
  expire(): void {
    if (!this.isTerminal(this.currentState)) this.stateTransition('Terminated' as State);
  }

  /** Stops everything at once (shutdown); no further events. */
  dispose(): void {
    this.clearTimers();
    this.removeAllListeners();
  }
}
