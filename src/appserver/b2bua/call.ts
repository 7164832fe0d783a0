/**
 * An anchored call: the B2BUA is the callee for the caller's leg (A) and the caller for one
 * branch per device it rings (B). It forks in parallel, relays one early dialog to the caller,
 * takes the first 2xx, cancels the rest with `Reason: SIP;cause=200;text="Call completed
 * elsewhere"`, then relays what flows between the two legs (re-INVITE, BYE, INFO …) until one
 * side hangs up. Every step is a call event.
 */
import {
  Dialog,
  SipRequest,
  createResponse,
  dialogKey,
  newTag,
  randomToken,
  type Destination,
  type InviteServerTransaction,
  type NameAddr,
  type ServerTransaction,
  type SipEndpoint,
  type SipResponse,
  type Uri,
} from '../../sip/index.ts';
import type { CallDirection } from '../../store/index.ts';
import type { CallEndCause, CallEventBus, CallParty } from '../call-events.ts';
import { Branch, type BranchTarget, type BranchUser } from './branch.ts';
import type { CallMedia } from './call-media.ts';
import type { MediaProfile } from '../../media/types.ts';

export const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, MESSAGE, NOTIFY';
export const COMPLETED_ELSEWHERE = 'SIP;cause=200;text="Call completed elsewhere"';

/** The caller's headers copied into the INVITEs to the devices (anything else stays at the edge). */
const RELAYED_TO_DEVICES = ['Subject', 'Priority'];

/**
 * Ringside's own content type: the server's screen pops to the widget. Only the server sends it,
 * outside any dialog; from the other party of a call it would be a forged pop (security review #7).
 */
const RINGSIDE_CONTENT = /application\/vnd\.ringside/i;

export interface CallLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

/** In-dialog requests find their call here by Call-ID and tags. */
export class DialogRegistry {
  private readonly byKey = new Map<string, { call: Call; side: Side }>();

  add(dialog: Dialog, call: Call, side: Side): void {
    this.byKey.set(dialog.key, { call, side });
  }

  remove(dialog: Dialog): void {
    this.byKey.delete(dialog.key);
  }

  /** The call of an incoming in-dialog request: its To tag is ours, its From tag the peer's. */
  find(request: SipRequest): { call: Call; side: Side } | undefined {
    const local = request.to.tag;
    const remote = request.from.tag;
    if (!local || !remote) return undefined;
    return this.byKey.get(dialogKey({ callId: request.callId, localTag: local, remoteTag: remote }));
  }

  get size(): number {
    return this.byKey.size;
  }
}

export type Side = 'a' | 'b';

export interface CallContext {
  endpoint: SipEndpoint;
  events: CallEventBus;
  dialogs: DialogRegistry;
  log: CallLog;
  ringTimeoutMs: number;
  declineStopsAll: boolean;
  clock: () => number;
  /** Called once the call has ended and been reported. */
  onEnded(call: Call): void;
}

export interface CallTarget extends BranchTarget {
  requestUri: Uri;
  /** What the device speaks: a browser (WebRTC) or a phone/trunk (plain RTP). */
  profile: MediaProfile;
}

export interface CallSetup {
  /** Ringside's id of the call (also the media relay's session id). */
  id: string;
  transaction: InviteServerTransaction;
  direction: CallDirection;
  from: CallParty;
  to: CallParty;
  calleeUserIds: string[];
  trunk: string | null;
  /** From and To of the INVITEs to the devices. */
  presentedFrom: NameAddr;
  presentedTo: NameAddr;
  targets: CallTarget[];
  /** The caller's SDP offer (from a multipart body too), or undefined for a delayed offer. */
  offer: Buffer | undefined;
  /** Converts SDP through the media relay where caller and device speak differently. */
  media: CallMedia;
  /** The CRM record the call belongs to: the one the caller dialled from (click-to-dial), a guest's invitation's. */
  context: { type: 'contact' | 'lead' | 'account'; id: string } | null;
  /** The caller offered video. */
  video: boolean;
  /** A guest's call: the invitation it comes from. */
  invitationId: string | null;
}

type CallState = 'ringing' | 'answered' | 'ended';

export class Call implements BranchUser {
  readonly id: string;
  state: CallState = 'ringing';
  /** The caller's Call-ID. */
  readonly sipCallId: string;
  /** A guest's call: the invitation it comes from (one call per invitation at a time). */
  readonly invitationId: string | null;
  private readonly a: InviteServerTransaction;
  private readonly aDestination: Destination;
  private aDialog: Dialog | undefined;
  private readonly branches: Branch[] = [];
  private answered: Branch | undefined;
  private answeredAt: number | undefined;
  private sentRinging = false;
  private sentEarlyMedia = false;
  private ringTimer: NodeJS.Timeout | undefined;
  private okRetransmit: NodeJS.Timeout | undefined;
  private okResponse: SipResponse | undefined;
  /** The caller's INVITE had no SDP: the offer comes in our 200, the answer in its ACK for the device. */
  private readonly delayedOffer: boolean;
  private readonly ringingBranches = new Set<Branch>();
  /** The ACK of our 200 to the caller has not arrived yet. */
  private awaitingAck = false;
  /** A re-INVITE being relayed; only one at a time (a second gets 491, RFC 3261 §14.1). */
  private reinvite: { from: Side; deferredAck: boolean } | undefined;
  /** A re-INVITE without offer: its originator's ACK carries the answer, to pass on to the other leg. */
  private pendingAckToOther: { from: Side; dialog: Dialog; cseq: number } | undefined;

  constructor(
    private readonly setup: CallSetup,
    private readonly ctx: CallContext,
  ) {
    this.id = setup.id;
    this.a = setup.transaction;
    this.sipCallId = this.a.request.callId;
    this.invitationId = setup.invitationId;
    const source = this.a.source;
    // Requests to the caller go back where it called from (its connection, or its address — NAT-safe).
    this.aDestination = { protocol: source.protocol, address: source.address, port: source.port, ...(source.flow ? { flow: source.flow } : {}) };
    this.delayedOffer = !setup.offer || setup.offer.length === 0;
  }


  start(): void {
    const { setup, ctx } = this;
    ctx.events.publish({
      type: 'call.started',
      callId: this.id,
      at: ctx.clock(),
      direction: setup.direction,
      from: setup.from,
      to: setup.to,
      calleeUserIds: setup.calleeUserIds,
      trunk: setup.trunk,
      sipCallId: this.sipCallId,
      context: setup.context,
      video: setup.video,
      invitationId: setup.invitationId,
    });
    this.a.on('cancel', () => this.onCallerCancel());
    if (setup.targets.length === 0) {
      this.finish(480, 'unavailable', 'Temporarily Unavailable');
      return;
    }
    void this.fork().catch((err: unknown) => {
      ctx.log.warn({ err, call: this.id }, 'could not start the call');
      this.finish(500, 'failed', 'Server Internal Error');
    });
  }

  /** One branch per device, each with the offer in the form it speaks (through the relay when needed). */
  private async fork(): Promise<void> {
    const { setup, ctx } = this;
    const maxForwards = Math.max(0, (this.a.request.maxForwards ?? 70) - 1);
    let refusal: string | undefined;
    for (const target of setup.targets) {
      let offer: Buffer | undefined;
      try {
        offer = await setup.media.offerFor(target.profile);
      } catch (err) {
        // This device cannot be reached with this media; the others may still ring.
        refusal = err instanceof Error ? err.message : String(err);
        ctx.log.info({ call: this.id, device: target.device, reason: refusal }, 'device skipped: media cannot be bridged');
        continue;
      }
      const branch = new Branch(target, this.branchInvite(target, maxForwards, offer), ctx.endpoint, this, ctx.endpoint.contact(target.destination.protocol));
      this.branches.push(branch);
    }
    if (this.state !== 'ringing') return; // the caller gave up meanwhile
    if (this.branches.length === 0) {
      this.finish(488, 'failed', `Not Acceptable Here: ${(refusal ?? 'no common media').slice(0, 80)}`);
      return;
    }
    for (const branch of this.branches) branch.start();
    this.ringTimer = setTimeout(() => this.onRingTimeout(), ctx.ringTimeoutMs);
  }

  private branchInvite(target: CallTarget, maxForwards: number, offer: Buffer | undefined): SipRequest {
    const from = this.setup.presentedFrom.clone();
    from.tag = newTag();
    const request = new SipRequest('INVITE', target.requestUri);
    request.setHeader('Max-Forwards', String(maxForwards));
    request.setHeader('From', from.toString());
    request.setHeader('To', this.setup.presentedTo.toString());
    request.setHeader('Call-ID', `${randomToken(12)}@ringside`);
    request.setHeader('CSeq', '1 INVITE');
    request.setHeader('Contact', this.ctx.endpoint.contact(target.destination.protocol));
    request.setHeader('Allow', ALLOW);
    request.setHeader('X-Ringside-Call', this.id);
    // Only what describes the call passes to the devices. Never Alert-Info or Call-Info: from a
    // caller they make desk phones auto-answer as an intercom (`info=alert-autoanswer`,
    // `answer-after=0`) with the microphone open, or fetch any URL (security review #6). Nor
    // identity headers (P-Asserted-Identity …) or X-Ringside-*: the branch is built from scratch.
    for (const name of RELAYED_TO_DEVICES) {
      for (const v of this.a.request.headerValues(name)) request.addHeader(name, v);
    }
    if (offer && offer.length > 0) {
      request.body = offer;
      request.setHeader('Content-Type', 'application/sdp');
    }
    return request;
  }

  // ---------------------------------------------------------------- A side

  private respondA(status: number, options: { reason?: string; body?: Buffer; contentType?: string; headers?: [string, string][] } = {}): SipResponse {
    const response = createResponse(this.a.request, status, { toTag: this.a.localTag, ...(options.reason ? { reason: options.reason } : {}) });
    if (status > 100 && status < 300) {
      response.setHeader('Contact', this.ctx.endpoint.contact(this.aDestination.protocol));
      response.setHeader('Allow', ALLOW);
      // The caller's widget learns the call's id (for its card, notes and quality).
      response.setHeader('X-Ringside-Call', this.id);
    }
    for (const [k, v] of options.headers ?? []) response.setHeader(k, v);
    if (options.body && options.body.length > 0) {
      response.body = options.body;
      response.setHeader('Content-Type', options.contentType ?? 'application/sdp');
    }
    this.a.respond(response);
    return response;
  }

  private onCallerCancel(): void {
    if (this.state !== 'ringing') return;
    for (const b of this.branches) b.cancel();
    this.finish(487, 'cancelled', 'Request Terminated', 'caller');
  }

  private onRingTimeout(): void {
    if (this.state !== 'ringing') return;
    this.ctx.log.info({ call: this.id }, 'no answer before the ring timeout');
    this.finish(480, 'no-answer', 'No Answer');
  }

  /** The call ends before anyone answered: one final response to the caller. */
  private finish(status: number, cause: CallEndCause, reason?: string, hangupBy: 'caller' | 'callee' | 'system' = 'system'): void {
    if (this.state !== 'ringing') return;
    for (const b of this.branches) b.cancel();
    this.respondA(status, reason ? { reason } : {});
    this.end(cause, status, hangupBy);
  }

  // ---------------------------------------------------------------- B side (BranchUser)

  onProvisional(branch: Branch, response: SipResponse): void {
    if (this.state !== 'ringing') return;
    if (!this.ringingBranches.has(branch)) {
      this.ringingBranches.add(branch);
      this.ctx.events.publish({
        type: 'call.ringing',
        callId: this.id,
        at: this.ctx.clock(),
        userId: branch.target.userId,
        device: branch.target.device,
        registrationId: branch.target.registrationId,
      });
    }
    // One early dialog towards the caller. Early media only when a single device rings: with
    // several, each would answer the offer differently.
    if (response.body.length > 0 && this.branches.length === 1 && !this.sentEarlyMedia && !this.setup.media.needsRelay((branch.target as CallTarget).profile)) {
      this.sentEarlyMedia = true;
      this.sentRinging = true;
      this.respondA(183, { body: response.body, contentType: response.header('Content-Type') ?? 'application/sdp' });
    } else if (!this.sentRinging) {
      this.sentRinging = true;
      this.respondA(180);
    }
  }

  onAnswer(branch: Branch, response: SipResponse): void {
    if (this.state !== 'ringing') {
      // Another device won, or the caller is gone: take this answer and hang it up.
      branch.acknowledge();
      branch.bye();
      return;
    }
    this.state = 'answered';
    this.answered = branch;
    this.answeredAt = this.ctx.clock();
    if (this.ringTimer) clearTimeout(this.ringTimer);
    for (const other of this.branches) if (other !== branch) other.cancel(COMPLETED_ELSEWHERE);
    if (!this.delayedOffer) branch.acknowledge();
    const target = branch.target as CallTarget;
    // The device's SIP address (where it registered from): behind NAT its RTP comes from there.
    this.setup.media.answerFor(branch.dialog!.id.remoteTag, target.profile, response.body, target.destination.address).then(
      (sdp) => this.answerCaller(branch, sdp, response.header('Content-Type') ?? 'application/sdp'),
      (err: unknown) => {
        this.ctx.log.warn({ err, call: this.id }, "the relay refused the device's answer; hanging up");
        this.respondA(488, { reason: 'Not Acceptable Here' });
        branch.bye();
        this.end('failed', 488, 'system');
      },
    );
  }

  private answerCaller(branch: Branch, sdp: Buffer, contentType: string): void {
    if (this.state !== 'answered') return; // hung up while the relay was answering
    // The dialog first: once answered, the transaction lets go of the caller's INVITE.
    this.aDialog = Dialog.asUas(this.a.request, this.a.localTag, this.aDestination, this.ctx.endpoint.contact(this.aDestination.protocol));
    this.okResponse = this.respondA(200, { body: sdp, contentType });
    this.ctx.dialogs.add(this.aDialog, this, 'a');
    this.ctx.dialogs.add(branch.dialog!, this, 'b');
    this.ctx.events.publish({
      type: 'call.answered',
      callId: this.id,
      at: this.answeredAt!,
      userId: branch.target.userId,
      device: branch.target.device,
      registrationId: branch.target.registrationId,
    });
    this.awaitingAck = true;
    if (this.aDestination.protocol === 'UDP') this.retransmitOk(this.ctx.endpoint.transactions.timers.T1, 0);
    // A browser that vanishes takes its connection with it: the call ends, the other side gets BYE.
    this.aDestination.flow?.once('close', () => this.hangUp('caller', 'completed'));
    branch.target.destination.flow?.once('close', () => this.hangUp('callee', 'completed'));
  }

  /** §13.3.1.4: the UAS core resends its 2xx until the ACK arrives; no ACK in 64*T1 ends the call. */
  private retransmitOk(interval: number, elapsed: number): void {
    const { T1, T2 } = this.ctx.endpoint.transactions.timers;
    this.okRetransmit = setTimeout(() => {
      if (this.state !== 'answered' || !this.okResponse) return;
      if (elapsed + interval >= 64 * T1) {
        this.ctx.log.warn({ call: this.id }, 'caller never acknowledged the answer; hanging up');
        this.hangUp('system', 'failed');
        return;
      }
      this.ctx.endpoint.send(this.okResponse, this.a.destination);
      this.retransmitOk(Math.min(interval * 2, T2), elapsed + interval);
    }, interval);
  }

  onFailure(branch: Branch, status: number): void {
    void branch;
    if (this.state !== 'ringing') return;
    if (status === 603 && this.ctx.declineStopsAll) {
      this.finish(603, 'declined', 'Decline', 'callee');
      return;
    }
    if (this.branches.some((b) => b.pending)) return;
    const statuses = this.branches.map((b) => b.finalStatus ?? 500);
    const [best, cause] = bestFailure(statuses);
    this.finish(best, cause, undefined, cause === 'declined' || cause === 'busy' ? 'callee' : 'system');
  }

  // ---------------------------------------------------------------- in dialog

  /** An ACK of a 2xx we sent (initial answer or re-INVITE). */
  onAck(side: Side, ack: SipRequest): void {
    const body = ack.body.length > 0 ? { sdp: ack.body, contentType: ack.header('Content-Type') ?? 'application/sdp' } : undefined;
    if (side === 'a' && this.awaitingAck) {
      this.awaitingAck = false;
      if (this.okRetransmit) clearTimeout(this.okRetransmit);
      this.okRetransmit = undefined;
      this.okResponse = undefined;
      if (this.delayedOffer) this.answered?.acknowledge(body);
      return;
    }
    const pending = this.pendingAckToOther;
    if (pending && pending.from === side) {
      this.pendingAckToOther = undefined;
      const forwarded = pending.dialog.createRequest('ACK', { cseq: pending.cseq, ...(body ? { body: body.sdp, contentType: body.contentType } : {}) });
      this.ctx.endpoint.sendAck(forwarded, pending.dialog.destination);
    }
  }

  onRequest(side: Side, transaction: ServerTransaction): void {
    const request = transaction.request;
    const own = side === 'a' ? this.aDialog : this.answered?.dialog;
    const other = side === 'a' ? this.answered?.dialog : this.aDialog;
    if (!own || !other || this.state !== 'answered') {
      transaction.respond(createResponse(request, 481));
      return;
    }
    if (!own.acceptRemoteSeq(request)) {
      transaction.respond(createResponse(request, 500, { reason: 'CSeq out of order' }));
      return;
    }
    switch (request.method) {
      case 'BYE':
        transaction.respond(createResponse(request, 200));
        this.hangUp(side === 'a' ? 'caller' : 'callee', 'completed');
        return;
      case 'OPTIONS': {
        const ok = createResponse(request, 200);
        ok.setHeader('Allow', ALLOW);
        transaction.respond(ok);
        return;
      }
      case 'REFER':
        transaction.respond(createResponse(request, 501, { reason: 'Transfer not supported' }));
        return;
      case 'INVITE':
        if (carriesRingsideContent(request)) break;
        if (this.reinvite) {
          transaction.respond(createResponse(request, 491));
          return;
        }
        this.forward(side, transaction, other);
        return;
      default:
        if (carriesRingsideContent(request)) break;
        this.forward(side, transaction, other);
        return;
    }
    // Not relayed: the other party may not speak as the server (a forged screen pop).
    this.ctx.log.warn({ call: this.id, method: request.method, from: side === 'a' ? 'caller' : 'callee' }, 'in-dialog request with Ringside content refused');
    const refused = createResponse(request, 415, { reason: 'Ringside content is not relayed' });
    refused.setHeader('Accept', 'application/sdp, text/plain, application/dtmf-relay');
    transaction.respond(refused);
  }

  /** Relays an in-dialog request to the other leg and its final answer back (SDP through the relay when anchored). */
  private forward(side: Side, transaction: ServerTransaction, other: Dialog): void {
    const request = transaction.request;
    const isInvite = request.method === 'INVITE';
    const own = side === 'a' ? this.aDialog! : this.answered!.dialog!;
    const media = this.setup.media;
    const otherProfile: MediaProfile = side === 'a' ? (this.answered!.target as CallTarget).profile : (media.callerProfile ?? 'rtp');
    const fromTag = side === 'a' ? 'a' : own.id.remoteTag;
    const toTag = side === 'a' ? other.id.remoteTag : 'a';
    const hasSdp = request.body.length > 0 && (request.contentType === 'application/sdp' || !request.contentType);
    if (isInvite) this.reinvite = { from: side, deferredAck: request.body.length === 0 };
    const offer = isInvite || request.method === 'UPDATE' ? (hasSdp ? media.reoffer(fromTag, request.body, otherProfile, transaction.source.address) : Promise.resolve(request.body)) : Promise.resolve(request.body);
    offer.then(
      (body) => {
        const out = other.createRequest(request.method, body.length > 0 ? { body, contentType: request.header('Content-Type') ?? 'application/sdp' } : {});
        for (const name of ['Event', 'Subscription-State', 'Info-Package', 'Reason', 'Subject']) {
          for (const v of request.headerValues(name)) out.addHeader(name, v);
        }
        this.ctx.endpoint.request(out, other.destination, {
          onResponse: (response) => {
            if (response.status < 200) return;
            const answered = isInvite && response.status < 300 && hasSdp && response.body.length > 0 ? media.reanswer(fromTag, toTag, response.body, other.destination.address) : Promise.resolve(response.body);
            void answered.then(
              (answerBody) => {
                const back = createResponse(request, response.status, { reason: response.reason });
                if (response.status < 300) back.setHeader('Contact', own.localContact);
                if (answerBody.length > 0) {
                  back.body = answerBody;
                  back.setHeader('Content-Type', response.header('Content-Type') ?? 'application/sdp');
                }
                if (isInvite) {
                  if (response.status < 300) {
                    const cseq = out.cseq.seq;
                    if (this.reinvite?.deferredAck) this.pendingAckToOther = { from: side, dialog: other, cseq };
                    else this.ctx.endpoint.sendAck(other.createRequest('ACK', { cseq }), other.destination);
                  }
                  this.reinvite = undefined;
                }
                transaction.respond(back);
              },
              () => this.inDialogFailure(transaction, 488, isInvite),
            );
          },
          onTimeout: () => this.inDialogFailure(transaction, 408, isInvite),
          onTransportError: () => this.inDialogFailure(transaction, 503, isInvite),
        });
      },
      () => this.inDialogFailure(transaction, 488, isInvite),
    );
  }

  /** The other leg did not answer an in-dialog request: the device is gone, so is the call. */
  private inDialogFailure(transaction: ServerTransaction, status: number, isInvite: boolean): void {
    if (isInvite) this.reinvite = undefined;
    const method = transaction.request.method;
    transaction.respond(createResponse(transaction.request, status));
    if (this.state === 'answered' && (isInvite || method === 'UPDATE')) {
      this.ctx.log.info({ call: this.id, status }, 'other leg stopped answering; hanging up');
      this.hangUp('system', 'failed');
    }
  }

  /** Whether a user takes part: the caller, a user it rings, or the user whose device answered. */
  involves(userId: string): boolean {
    return this.setup.from.userId === userId || this.setup.calleeUserIds.includes(userId) || this.answered?.target.userId === userId;
  }

  /**
   * An administrator disabled a user of this call (offboarding): a call still ringing stops (the
   * caller hears 403 when it is theirs, 480 when the user it rang is gone), an answered one is hung up.
   */
  endForDisabledUser(userId: string): void {
    if (this.state === 'ringing') this.finish(this.setup.from.userId === userId ? 403 : 480, 'forbidden', 'User disabled');
    else if (this.state === 'answered') this.hangUp('system', 'forbidden');
  }

  /** The server is stopping: release both legs and record the call as interrupted. */
  shutdown(): void {
    if (this.state === 'ringing') this.finish(503, 'interrupted', 'Service Unavailable');
    else if (this.state === 'answered') this.hangUp('system', 'interrupted');
  }

  /** Ends an answered call: BYE to whichever legs are still up. */
  hangUp(by: 'caller' | 'callee' | 'system', cause: CallEndCause): void {
    if (this.state !== 'answered') return;
    if (by !== 'callee') this.answered?.bye();
    if (by !== 'caller' && this.aDialog && this.aDialog.state !== 'terminated') {
      const bye = this.aDialog.createRequest('BYE');
      this.aDialog.state = 'terminated';
      this.ctx.endpoint.request(bye, this.aDialog.destination, { onResponse() {}, onTimeout() {}, onTransportError() {} });
    }
    if (by === 'callee' && this.answered?.dialog) this.answered.dialog.state = 'terminated';
    if (by === 'caller' && this.aDialog) this.aDialog.state = 'terminated';
    this.end(cause, null, by);
  }

  private end(cause: CallEndCause, sipStatus: number | null, hangupBy: 'caller' | 'callee' | 'system'): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    if (this.ringTimer) clearTimeout(this.ringTimer);
    if (this.okRetransmit) clearTimeout(this.okRetransmit);
    const now = this.ctx.clock();
    if (this.aDialog) this.ctx.dialogs.remove(this.aDialog);
    if (this.answered?.dialog) this.ctx.dialogs.remove(this.answered.dialog);
    void this.setup.media.close();
    this.ctx.events.publish({
      type: 'call.ended',
      callId: this.id,
      at: now,
      cause,
      sipStatus,
      durationS: this.answeredAt === undefined ? 0 : Math.round((now - this.answeredAt) / 1000),
      hangupBy,
    });
    this.ctx.onEnded(this);
    // The transactions of this call live on for 64*T1 to absorb retransmissions, and their users
    // lead back here: let go of what an ended call no longer needs, so little is kept that long.
    this.awaitingAck = false;
    this.okResponse = undefined;
    this.aDialog = undefined;
    this.pendingAckToOther = undefined;
    this.reinvite = undefined;
    this.ringingBranches.clear();
    // A cancelled branch may still be answered (and must then be ACKed and hung up): it keeps its INVITE.
    for (const b of this.branches) if (b.state === 'answered' || b.state === 'failed') b.release();
    this.branches.length = 0;
    this.setup.targets.length = 0;
  }
}

/** A request whose body is (or contains, multipart) Ringside's own content type. */
function carriesRingsideContent(request: SipRequest): boolean {
  const type = request.header('Content-Type') ?? '';
  if (RINGSIDE_CONTENT.test(type)) return true;
  return /^\s*multipart\//i.test(type) && RINGSIDE_CONTENT.test(request.body.toString('latin1'));
}

/**
 * The response the caller gets when every device failed (RFC 3261 §16.7 in spirit): busy beats
 * declined beats not found beats the rest; devices that all refused the media say so (488, so the
 * caller's phone can tell "no media in common" from "no answer"); nothing reachable is 480.
 */
export function bestFailure(statuses: number[]): [number, CallEndCause] {
  if (statuses.some((s) => s === 486 || s === 600)) return [486, 'busy'];
  if (statuses.some((s) => s === 603)) return [603, 'declined'];
  if (statuses.every((s) => s === 404 || s === 604)) return [404, 'not-found'];
  if (statuses.every((s) => s === 403)) return [403, 'forbidden'];
  if (statuses.every((s) => s === 488 || s === 606)) return [488, 'failed'];
  if (statuses.some((s) => s === 408 || s === 480 || s === 487)) return [480, 'no-answer'];
  if (statuses.every((s) => s >= 500)) return [480, 'unavailable'];
  return [480, 'failed'];
}
