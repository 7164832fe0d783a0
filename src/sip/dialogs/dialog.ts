/**
 * A dialog (RFC 3261 §12): the peer-to-peer relationship an INVITE creates, kept apart from the
 * transactions that run inside it. It knows its identifiers, both CSeq spaces, the remote target
 * and route set, and how to reach the peer — on the flow the peer registered or called on when
 * there is one (a browser's Contact host is unreachable, RFC 7118 §5), else at its Contact.
 */
import { SipRequest, randomToken, type NameAddr, type SipResponse, type Uri } from '../message/index.ts';
import type { Destination } from '../transport/index.ts';

export type DialogState = 'early' | 'confirmed' | 'terminated';

export interface DialogId {
  callId: string;
  localTag: string;
  remoteTag: string;
}

export function dialogKey(id: DialogId): string {
  return `${id.callId}|${id.localTag}|${id.remoteTag}`;
}

export class Dialog {
  state: DialogState;
  localSeq: number;
  remoteSeq: number | undefined;

  private constructor(
    readonly id: DialogId,
    /** Our address in this dialog (From of our requests). */
    readonly localUri: NameAddr,
    /** The peer's address (To of our requests). */
    readonly remoteUri: NameAddr,
    public remoteTarget: Uri,
    readonly routeSet: NameAddr[],
    public destination: Destination,
    /** Our Contact in this dialog. */
    readonly localContact: string,
    state: DialogState,
    localSeq: number,
    remoteSeq: number | undefined,
  ) {
    this.state = state;
    this.localSeq = localSeq;
    this.remoteSeq = remoteSeq;
  }

  get key(): string {
    return dialogKey(this.id);
  }

  /** §12.1.2: the dialog we (UAC) have with whoever sent `response` to our `request`. */
  static asUac(request: SipRequest, response: SipResponse, destination: Destination, localContact: string): Dialog {
    const contact = response.contacts;
    const target = contact !== '*' && contact[0] ? contact[0].uri : request.uri;
    // The route set is the Record-Route of the response, reversed.
    const routes = response.recordRoutes.slice().reverse();
    return new Dialog(
      { callId: request.callId, localTag: request.from.tag ?? '', remoteTag: response.to.tag ?? '' },
      request.from.clone(),
      response.to.clone(),
      target,
      routes,
      destination,
      localContact,
      response.status >= 200 ? 'confirmed' : 'early',
      request.cseq.seq,
      undefined,
    );
  }

  /** §12.1.1: the dialog we (UAS) have with the sender of `request`, answered with `localTag`. */
  static asUas(request: SipRequest, localTag: string, destination: Destination, localContact: string, state: DialogState = 'confirmed'): Dialog {
    const contact = request.contacts;
    const target = contact !== '*' && contact[0] ? contact[0].uri : request.from.uri;
    const to = request.to.clone();
    to.tag = localTag;
    return new Dialog(
      { callId: request.callId, localTag, remoteTag: request.from.tag ?? '' },
      to,
      request.from.clone(),
      target,
      request.recordRoutes.slice(),
      destination,
      localContact,
      state,
      Math.floor(Math.random() * 10_000) + 1,
      request.cseq.seq,
    );
  }

  /** A new in-dialog request (§12.2.1.1): our next CSeq, the remote target, the route set. */
  createRequest(method: string, options: { body?: Buffer; contentType?: string; cseq?: number } = {}): SipRequest {
    if (method !== 'ACK' && method !== 'CANCEL') this.localSeq += 1;
    const request = new SipRequest(method, this.remoteTarget);
    for (const route of this.routeSet) request.addHeader('Route', route.toString());
    request.setHeader('Max-Forwards', '70');
    request.setHeader('From', this.localUri.toString());
    request.setHeader('To', this.remoteUri.toString());
    request.setHeader('Call-ID', this.id.callId);
    request.setHeader('CSeq', `${options.cseq ?? this.localSeq} ${method}`);
    if (method === 'INVITE' || method === 'UPDATE' || method === 'REFER' || method === 'SUBSCRIBE' || method === 'NOTIFY') {
      request.setHeader('Contact', this.localContact);
    }
    if (options.body && options.body.length > 0) {
      request.body = options.body;
      request.setHeader('Content-Type', options.contentType ?? 'application/sdp');
    }
    return request;
  }

  /**
   * Checks an in-dialog request's CSeq (§12.2.2): lower than the last one is out of order (500);
   * else it becomes the remote sequence number. ACK and CANCEL reuse their INVITE's number.
   */
  acceptRemoteSeq(request: SipRequest): boolean {
    if (request.method === 'ACK' || request.method === 'CANCEL') return true;
    const seq = request.cseq.seq;
    if (this.remoteSeq !== undefined && seq <= this.remoteSeq) return false;
    this.remoteSeq = seq;
    // A target refresh (re-INVITE, UPDATE) may move the peer (§12.2.2).
    if (request.method === 'INVITE' || request.method === 'UPDATE') {
      const contact = request.contacts;
      if (contact !== '*' && contact[0]) this.remoteTarget = contact[0].uri;
    }
    return true;
  }
}

/** A fresh tag for the local side of a dialog. */
export function newTag(): string {
  return randomToken(6);
}

