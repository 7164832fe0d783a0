/**
 * One branch of a forked call: the INVITE the B2BUA sends to one device (or to a trunk), its
 * client transaction, its CANCEL, its dialog once answered, and the ACK of its 2xx.
 *
 * CANCEL is sent only once the branch has had a provisional response (RFC 3261 §9.1): a cancel
 * asked for earlier waits for the first 1xx.
 */
import {
  Dialog,
  SipRequest,
  answerChallenge,
  type Destination,
  type SipEndpoint,
  type SipResponse,
} from '../../sip/index.ts';

export type BranchState = 'trying' | 'ringing' | 'answered' | 'failed' | 'cancelled';

export interface BranchTarget {
  /** For a device: the user it belongs to and its registration; for a trunk: its name. */
  userId: string | null;
  registrationId: string | null;
  device: string;
  trunkName: string | null;
  destination: Destination;
  credentials?: { username: string; password: string };
}

export interface BranchUser {
  onProvisional(branch: Branch, response: SipResponse): void;
  onAnswer(branch: Branch, response: SipResponse): void;
  onFailure(branch: Branch, status: number, response?: SipResponse): void;
}

export class Branch {
  state: BranchState = 'trying';
  dialog: Dialog | undefined;
  finalStatus: number | undefined;
  private provisional = false;
  private cancelPending: string | undefined | null = null;
  private ack: { request: SipRequest; destination: Destination } | undefined;
  private authenticated = false;
  private request: SipRequest | undefined;

  constructor(
    readonly target: BranchTarget,
    request: SipRequest,
    private readonly endpoint: SipEndpoint,
    private readonly user: BranchUser,
    private readonly localContact: string,
  ) {
    this.request = request;
  }

  get invite(): SipRequest {
    if (!this.request) throw new Error('branch released');
    return this.request;
  }

  get pending(): boolean {
    return this.state === 'trying' || this.state === 'ringing';
  }

  start(): void {
    this.endpoint.request(this.invite, this.target.destination, {
      onResponse: (response) => this.onResponse(response),
      onTimeout: () => this.fail(408),
      onTransportError: () => this.fail(503),
    });
  }

  private onResponse(response: SipResponse): void {
    const status = response.status;
    if (status < 200) {
      if (status === 100) return;
      const first = !this.provisional;
      this.provisional = true;
      if (first && this.cancelPending !== null) return this.sendCancel(this.cancelPending);
      if (this.state === 'trying') this.state = 'ringing';
      if (this.state === 'ringing') this.user.onProvisional(this, response);
      return;
    }
    if (status < 300) {
      if (this.dialog || this.ack) {
        // A retransmitted 2xx: our ACK was lost (§13.2.2.4). The same ACK again.
        if (this.ack) this.endpoint.sendAck(this.ack.request, this.ack.destination);
        return;
      }
      this.dialog = Dialog.asUac(this.invite, response, this.target.destination, this.localContact);
      const wasCancelled = this.state === 'cancelled';
      this.state = 'answered';
      if (wasCancelled) {
        // Answered while we were cancelling it: take the call and hang up at once (§9.1).
        this.acknowledge();
        this.bye();
        this.state = 'cancelled';
        return;
      }
      this.user.onAnswer(this, response);
      return;
    }
    if ((status === 401 || status === 407) && this.target.credentials && !this.authenticated && this.state !== 'cancelled') {
      this.retryWithCredentials(response);
      return;
    }
    this.finalStatus = status;
    if (this.state === 'cancelled') return;
    this.state = 'failed';
    this.user.onFailure(this, status, response);
  }

  private fail(status: number): void {
    if (this.state === 'answered' || this.state === 'failed') return;
    this.finalStatus = status;
    const cancelled = this.state === 'cancelled';
    this.state = 'failed';
    if (!cancelled) this.user.onFailure(this, status);
  }

  /** A trunk challenged us: the same INVITE again, with credentials, as a new transaction. */
  private retryWithCredentials(response: SipResponse): void {
    this.authenticated = true;
    const header = response.status === 401 ? 'WWW-Authenticate' : 'Proxy-Authenticate';
    const challenge = response.header(header);
    if (!challenge) {
      this.finalStatus = response.status;
      this.state = 'failed';
      this.user.onFailure(this, response.status, response);
      return;
    }
    const first = this.invite;
    const retry = new SipRequest('INVITE', first.uri, first.headers.filter((h) => h.name !== 'Via').map((h) => ({ ...h })), first.body);
    retry.setHeader('CSeq', `${first.cseq.seq + 1} INVITE`);
    retry.setHeader(response.status === 401 ? 'Authorization' : 'Proxy-Authorization', answerChallenge(challenge, { method: 'INVITE', uri: first.uri.toString() }, this.target.credentials!));
    this.request = retry;
    this.provisional = false;
    this.start();
  }

  /** The ACK of the 2xx (§13.2.2.4); `body` carries the answer when the INVITE had no offer. */
  acknowledge(body?: { sdp: Buffer; contentType: string }): void {
    if (!this.dialog) return;
    const ack = this.dialog.createRequest('ACK', { cseq: this.invite.cseq.seq, ...(body ? { body: body.sdp, contentType: body.contentType } : {}) });
    this.ack = { request: ack, destination: this.dialog.destination };
    this.endpoint.sendAck(ack, this.dialog.destination); // adds its Via: a resend is the same ACK
  }

  /** Stops the branch ringing, with a Reason (RFC 3326) when given. */
  cancel(reason?: string): void {
    if (!this.pending) return;
    this.state = 'cancelled';
    if (!this.provisional) {
      this.cancelPending = reason;
      return;
    }
    this.sendCancel(reason);
  }

  private sendCancel(reason: string | undefined): void {
    this.cancelPending = null;
    const invite = this.invite;
    const cancel = new SipRequest('CANCEL', invite.uri);
    // §9.1: same Request-URI, Call-ID, To, From, CSeq number and top Via (branch) as the INVITE.
    for (const name of ['Route', 'From', 'To', 'Call-ID', 'Max-Forwards']) for (const v of invite.headerValues(name)) cancel.addHeader(name, v);
    cancel.setHeader('CSeq', `${invite.cseq.seq} CANCEL`);
    if (reason) cancel.setHeader('Reason', reason);
    this.endpoint.request(cancel, this.target.destination, { onResponse() {}, onTimeout() {}, onTransportError() {} }, invite.topVia.branch);
  }

  /** Ends an answered branch. */
  bye(onDone?: () => void): void {
    if (!this.dialog || this.dialog.state === 'terminated') return onDone?.();
    const bye = this.dialog.createRequest('BYE');
    this.dialog.state = 'terminated';
    this.endpoint.request(bye, this.dialog.destination, {
      onResponse: (r) => r.status >= 200 && onDone?.(),
      onTimeout: () => onDone?.(),
      onTransportError: () => onDone?.(),
    });
  }

  /**
   * The call has ended: keep only what answering a retransmitted 2xx needs (the ACK); the
   * transaction that may still deliver one lives on for 64*T1.
   */
  release(): void {
    this.request = undefined;
    this.dialog = undefined;
  }
}
