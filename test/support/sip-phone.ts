/**
 * A scriptable SIP phone for protocol tests, built on Ringside's SIP endpoint: it registers with
 * digest auth, calls, answers, rejects and hangs up on command, and records every request it
 * receives so a test can assert on exact headers (a CANCEL's Reason, a BYE's arrival).
 * The end-to-end proof uses real phones (baresip); this one is for what baresip cannot show.
 */
import { EventEmitter, once } from 'node:events';
import {
  Dialog,
  SipEndpoint,
  SipRequest,
  answerChallenge,
  createResponse,
  newTag,
  parseUri,
  randomToken,
  type Destination,
  type InviteServerTransaction,
  type ServerTransaction,
  type SipResponse,
  type TlsPeer,
  type TransportProtocol,
} from '../../src/sip/index.ts';

export const TEST_SDP = (port = 40000) =>
  Buffer.from(
    `v=0\r\no=- ${port} 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n`,
  );

export type AnswerMode = 'auto' | 'manual' | 'busy' | 'decline' | 'silent';

export interface PhoneOptions {
  user: string;
  password: string;
  domain: string;
  server: { address: string; port: number };
  protocol?: TransportProtocol;
  answer?: AnswerMode;
  userAgent?: string;
  /** RFC 5626 instance id. */
  instance?: string;
  /** For a TLS phone: how it checks the server's certificate (a test server's is self-signed). */
  tls?: TlsPeer;
}

export interface IncomingCall {
  transaction: InviteServerTransaction;
  request: SipRequest;
  dialog?: Dialog;
}

export class TestPhone extends EventEmitter {
  readonly endpoint: SipEndpoint;
  readonly received: SipRequest[] = [];
  readonly calls: IncomingCall[] = [];
  readonly provisionals: SipResponse[] = [];
  private closed = false;
  private nc = 0;
  private readonly registerCallId = `${randomToken(8)}@test`;
  private registerCseq = 0;
  private outbound: { dialog: Dialog; invite: SipRequest } | undefined;
  /** The last INVITE this phone sent (to CANCEL it). */
  lastInvite: SipRequest | undefined;

  private constructor(readonly options: PhoneOptions) {
    super();
    this.endpoint = new SipEndpoint({ timers: { T1: 50 }, userAgent: options.userAgent ?? 'TestPhone/1.0' });
    this.endpoint.user = {
      onRequest: (t) => this.onRequest(t),
      onAck: (ack) => {
        this.received.push(ack);
        this.emit('request', ack);
      },
    };
  }

  static async start(options: PhoneOptions): Promise<TestPhone> {
    const phone = new TestPhone(options);
    const protocol = options.protocol ?? 'UDP';
    // A TLS phone only dials out: the server reaches it on the connection it registered on.
    if (protocol !== 'TLS') await phone.endpoint.listen({ host: '127.0.0.1', ...(protocol === 'UDP' ? { udp: 0 } : { tcp: 0 }) });
    return phone;
  }

  get protocol(): TransportProtocol {
    return this.options.protocol ?? 'UDP';
  }

  get server(): Destination {
    return { protocol: this.protocol, address: this.options.server.address, port: this.options.server.port, ...(this.options.tls ? { tls: this.options.tls } : {}) };
  }

  get aor(): string {
    return `sip:${this.options.user}@${this.options.domain}`;
  }

  /** Sends a request and resolves with its final response, answering one digest challenge (unless told not to). */
  send(build: () => SipRequest, options: { authenticate?: boolean } = {}): Promise<SipResponse> {
    return new Promise((resolve, reject) => {
      const attempt = (authorization?: [string, string]) => {
        const request = build();
        if (authorization) request.setHeader(authorization[0], authorization[1]);
        this.endpoint.request(request, this.server, {
          onResponse: (response) => {
            if (response.status < 200) {
              this.provisionals.push(response);
              return this.emit('provisional', response);
            }
            if ((response.status === 401 || response.status === 407) && !authorization && options.authenticate !== false) {
              const challenge = response.header(response.status === 401 ? 'WWW-Authenticate' : 'Proxy-Authenticate')!;
              const value = answerChallenge(challenge, { method: request.method, uri: request.uri.toString() }, { username: this.options.user, password: this.options.password }, { nc: ++this.nc });
              attempt([response.status === 401 ? 'Authorization' : 'Proxy-Authorization', value]);
              return;
            }
            resolve(response);
          },
          onTimeout: () => reject(new Error(`${request.method} timed out`)),
          onTransportError: () => reject(new Error(`${request.method}: transport error`)),
        });
      };
      attempt();
    });
  }

  register(expires = 600, extra: { contactParams?: string; authenticate?: boolean } = {}): Promise<SipResponse> {
    return this.send(() => {
      const r = new SipRequest('REGISTER', parseUri(`sip:${this.options.domain}`));
      r.setHeader('From', `<${this.aor}>;tag=${newTag()}`);
      r.setHeader('To', `<${this.aor}>`);
      r.setHeader('Call-ID', this.registerCallId);
      r.setHeader('CSeq', `${++this.registerCseq} REGISTER`);
      const instance = this.options.instance ? `;+sip.instance="<urn:uuid:${this.options.instance}>";reg-id=1` : '';
      r.setHeader('Contact', `${this.endpoint.contact(this.protocol, this.options.user)}${instance}${extra.contactParams ?? ''}`);
      r.setHeader('Expires', String(expires));
      return r;
    }, extra.authenticate === false ? { authenticate: false } : {});
  }

  /** Calls `target` (a user, an extension, a number); resolves with the final response. */
  async call(target: string, options: { sdp?: Buffer | null; from?: string; authenticate?: boolean } = {}): Promise<SipResponse> {
    const callId = `${randomToken(8)}@test`;
    const tag = newTag();
    let cseq = 0;
    let invite: SipRequest | undefined;
    const response = await this.send(() => {
      const r = new SipRequest('INVITE', parseUri(target.startsWith('sip:') ? target : `sip:${target}@${this.options.domain}`));
      r.setHeader('From', `<${options.from ?? this.aor}>;tag=${tag}`);
      r.setHeader('To', `<${r.uri.toString()}>`);
      r.setHeader('Call-ID', callId);
      r.setHeader('CSeq', `${++cseq} INVITE`);
      r.setHeader('Contact', this.endpoint.contact(this.protocol, this.options.user));
      const sdp = options.sdp === undefined ? TEST_SDP() : options.sdp;
      if (sdp) {
        r.body = sdp;
        r.setHeader('Content-Type', 'application/sdp');
      }
      invite = r;
      this.lastInvite = r;
      return r;
    }, options.authenticate === false ? { authenticate: false } : {});
    if (response.status >= 200 && response.status < 300) {
      const dialog = Dialog.asUac(invite!, response, this.server, this.endpoint.contact(this.protocol, this.options.user));
      this.endpoint.sendAck(dialog.createRequest('ACK', { cseq: invite!.cseq.seq }), this.server);
      this.outbound = { dialog, invite: invite! };
    }
    return response;
  }

  /** Cancels the outgoing call in progress (call() then resolves with 487). */
  cancelCall(): void {
    const invite = this.lastInvite;
    if (!invite) throw new Error('no call to cancel');
    const cancel = new SipRequest('CANCEL', invite.uri);
    for (const n of ['From', 'To', 'Call-ID']) cancel.setHeader(n, invite.header(n)!);
    cancel.setHeader('CSeq', `${invite.cseq.seq} CANCEL`);
    this.endpoint.request(cancel, this.server, { onResponse() {}, onTimeout() {}, onTransportError() {} }, invite.topVia.branch);
  }

  /** Hangs up the outgoing call this phone made. */
  hangUp(): Promise<SipResponse> {
    const out = this.outbound;
    if (!out) throw new Error('no call to hang up');
    this.outbound = undefined;
    return this.inDialog(out.dialog, 'BYE');
  }

  /** Hangs up the incoming call this phone answered last. */
  hangUpIncoming(): Promise<SipResponse> {
    const call = [...this.calls].reverse().find((c) => c.dialog && c.dialog.state === 'confirmed');
    if (!call?.dialog) throw new Error('no answered call');
    call.dialog.state = 'terminated';
    return this.inDialog(call.dialog, 'BYE');
  }

  get outgoingDialog(): Dialog | undefined {
    return this.outbound?.dialog;
  }

  inDialog(dialog: Dialog, method: string, body?: Buffer): Promise<SipResponse> {
    return new Promise((resolve, reject) => {
      const r = dialog.createRequest(method, body ? { body } : {});
      this.endpoint.request(r, this.server, {
        onResponse: (response) => {
          if (response.status < 200) return;
          if (method === 'INVITE' && response.status < 300) this.endpoint.sendAck(dialog.createRequest('ACK', { cseq: r.cseq.seq }), this.server);
          resolve(response);
        },
        onTimeout: () => reject(new Error(`${method} timed out`)),
        onTransportError: () => reject(new Error(`${method}: transport error`)),
      });
    });
  }

  answer(call: IncomingCall, sdp: Buffer = TEST_SDP(41000)): void {
    const ok = createResponse(call.request, 200, { toTag: call.transaction.localTag });
    ok.setHeader('Contact', this.endpoint.contact(this.protocol, this.options.user));
    ok.body = sdp;
    ok.setHeader('Content-Type', 'application/sdp');
    call.dialog = Dialog.asUas(call.request, call.transaction.localTag, this.server, this.endpoint.contact(this.protocol, this.options.user));
    call.transaction.respond(ok);
  }

  reject(call: IncomingCall, status: number): void {
    call.transaction.respond(createResponse(call.request, status, { toTag: call.transaction.localTag }));
  }

  /** Resolves with the next request of this method (or already received, when `since` is given). */
  async nextRequest(method: string, timeoutMs = 5000, matches: (r: SipRequest) => boolean = () => true): Promise<SipRequest> {
    const found = this.received.find((r) => r.method === method && !this.consumed.has(r) && matches(r));
    if (found) {
      this.consumed.add(found);
      return found;
    }
    const signal = AbortSignal.timeout(timeoutMs);
    for (;;) {
      const [request] = (await once(this, 'request', { signal }).catch(() => {
        throw new Error(`${this.options.user}: no ${method} within ${timeoutMs} ms`);
      })) as [SipRequest];
      if (request.method === method && !this.consumed.has(request) && matches(request)) {
        this.consumed.add(request);
        return request;
      }
    }
  }

  private readonly consumed = new Set<SipRequest>();

  private onRequest(transaction: ServerTransaction): void {
    const request = transaction.request;
    this.received.push(request);
    if (request.method === 'INVITE' && !request.to.tag) {
      const call: IncomingCall = { transaction: transaction as InviteServerTransaction, request };
      this.calls.push(call);
      const t = transaction as InviteServerTransaction;
      t.on('cancel', (cancel) => {
        this.received.push(cancel);
        this.emit('request', cancel);
        t.respond(createResponse(request, 487, { toTag: t.localTag }));
      });
      const mode = this.options.answer ?? 'auto';
      const ringing = createResponse(request, 180, { toTag: t.localTag });
      ringing.setHeader('Contact', this.endpoint.contact(this.protocol, this.options.user));
      if (mode !== 'silent') t.respond(ringing);
      if (mode === 'auto') this.answer(call);
      else if (mode === 'busy') this.reject(call, 486);
      else if (mode === 'decline') this.reject(call, 603);
    } else if (request.method === 'BYE') {
      for (const c of this.calls) if (c.dialog && c.dialog.id.callId === request.callId) c.dialog.state = 'terminated';
      if (this.outbound && this.outbound.dialog.id.callId === request.callId) this.outbound = undefined;
      transaction.respond(createResponse(request, 200));
    } else {
      transaction.respond(createResponse(request, 200));
    }
    this.emit('request', request);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.endpoint.close();
  }
}
