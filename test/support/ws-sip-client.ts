/**
 * A browser-like SIP-over-WebSocket client (RFC 7118) for tests: one WebSocket with subprotocol
 * `sip`, a made-up `.invalid` Contact host as JsSIP uses, digest answers, and a record of the
 * requests it receives. Enough to prove the server reaches a device only through its flow.
 */
import { EventEmitter, once } from 'node:events';
import WebSocket from 'ws';
import {
  SipRequest,
  answerChallenge,
  createResponse,
  newBranch,
  newTag,
  parseMessage,
  parseUri,
  type AnySipMessage,
  type SipResponse,
} from '../../src/sip/index.ts';

export class WsSipClient extends EventEmitter {
  readonly received: SipRequest[] = [];
  private readonly host = `${newTag()}.invalid`;
  private cseq = 0;
  private nc = 0;

  private constructor(
    readonly ws: WebSocket,
    readonly options: { user: string; password: string; domain: string },
  ) {
    super();
    ws.on('message', (data) => {
      let message: AnySipMessage;
      try {
        message = parseMessage(Buffer.from(data as Buffer));
      } catch {
        return;
      }
      if (message.isRequest) {
        this.received.push(message);
        this.emit('request', message);
      } else {
        this.responses.push(message);
        this.emit('response', message);
      }
    });
  }

  static async connect(url: string, options: { user: string; password: string; domain: string; protocols?: string[]; headers?: Record<string, string> }): Promise<WsSipClient> {
    // Like a browser, which names the page's origin on every WebSocket (the gateway requires it with a cookie).
    const headers = options.headers?.cookie && !options.headers.origin ? { ...options.headers, origin: new URL(url.replace(/^ws/, 'http')).origin } : options.headers;
    const ws = new WebSocket(url, options.protocols ?? ['sip'], headers ? { headers } : {});
    await once(ws, 'open');
    return new WsSipClient(ws, options);
  }

  get contact(): string {
    return `<sip:${this.options.user}@${this.host};transport=ws>`;
  }

  send(message: AnySipMessage): void {
    this.ws.send(message.toString());
  }

  /** Sends a request (answering one digest challenge) and resolves with its final response. */
  async request(build: (cseq: number) => SipRequest): Promise<SipResponse> {
    let authorization: [string, string] | undefined;
    for (;;) {
      const request = build(++this.cseq);
      request.setHeader('Via', `SIP/2.0/WS ${this.host};branch=${newBranch()}`);
      if (authorization) request.setHeader(authorization[0], authorization[1]);
      this.send(request);
      const response = await this.finalResponse(request);
      if ((response.status === 401 || response.status === 407) && !authorization) {
        const challenge = response.header(response.status === 401 ? 'WWW-Authenticate' : 'Proxy-Authenticate')!;
        authorization = [
          response.status === 401 ? 'Authorization' : 'Proxy-Authorization',
          answerChallenge(challenge, { method: request.method, uri: request.uri.toString() }, { username: this.options.user, password: this.options.password }, { nc: ++this.nc }),
        ];
        continue;
      }
      return response;
    }
  }

  /** Every response received (several can arrive in one tick: a listener added later must still see them). */
  readonly responses: SipResponse[] = [];

  private finalResponse(request: SipRequest): Promise<SipResponse> {
    const matches = (r: SipResponse) => r.callId === request.callId && r.cseq.seq === request.cseq.seq && r.cseq.method === request.method && r.status >= 200;
    return new Promise((resolve, reject) => {
      const found = this.responses.find(matches);
      if (found) return resolve(found);
      const onResponse = (r: SipResponse) => {
        if (!matches(r)) return;
        clearTimeout(timer);
        this.off('response', onResponse);
        resolve(r);
      };
      const timer = setTimeout(() => {
        this.off('response', onResponse);
        reject(new Error(`no final response to ${request.method} within 5000 ms`));
      }, 5000);
      this.on('response', onResponse);
    });
  }

  register(expires = 600): Promise<SipResponse> {
    const callId = `${newTag()}@ws`;
    const tag = newTag();
    return this.request((cseq) => {
      const r = new SipRequest('REGISTER', parseUri(`sip:${this.options.domain}`));
      r.setHeader('From', `<sip:${this.options.user}@${this.options.domain}>;tag=${tag}`);
      r.setHeader('To', `<sip:${this.options.user}@${this.options.domain}>`);
      r.setHeader('Call-ID', callId);
      r.setHeader('CSeq', `${cseq} REGISTER`);
      r.setHeader('Contact', `${this.contact};+sip.instance="<urn:uuid:${newTag()}-0000>";reg-id=1`);
      r.setHeader('Expires', String(expires));
      r.setHeader('Supported', 'path, gruu, outbound');
      r.setHeader('Max-Forwards', '70');
      r.setHeader('User-Agent', 'JsSIP-like test client');
      return r;
    });
  }

  async nextRequest(method: string): Promise<SipRequest> {
    const signal = AbortSignal.timeout(5000);
    for (;;) {
      // Look in what has arrived first: several requests can arrive in one tick (the screen pop's
      // MESSAGE right before the INVITE), and `once` hears only the first of them.
      const found = this.received.find((r) => r.method === method);
      if (found) {
        this.received.splice(this.received.indexOf(found), 1);
        return found;
      }
      await once(this, 'request', { signal });
    }
  }

  respond(request: SipRequest, status: number, options: { toTag?: string; sdp?: Buffer } = {}): void {
    const r = createResponse(request, status, options.toTag ? { toTag: options.toTag } : {});
    if (status >= 200 && status < 300) r.setHeader('Contact', this.contact);
    if (options.sdp) {
      r.body = options.sdp;
      r.setHeader('Content-Type', 'application/sdp');
    }
    this.send(r);
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.close();
    await once(this.ws, 'close');
  }
}
