/**
 * The built-in test caller: a SIP phone inside the server that calls a user the way a customer
 * on a trunk would — from a number, with audio (a 440 Hz tone) — so a new user sees every device
 * ring without owning a SIP phone. It hangs up after the chosen duration once answered.
 *
 * It is a real SIP user agent on its own UDP port, on loopback only; the app server trusts that
 * one address like a trunk (never for calls out). It listens to the app server alone, and only
 * within its own calls: anything else is dropped unanswered (it is no second SIP server to scan).
 */
import dgram from 'node:dgram';
import { once } from 'node:events';
import { isIPv6 } from 'node:net';
import { Dialog, SipEndpoint, SipRequest, SipResponse, createResponse, newTag, parseUri, randomToken, type Destination, type ServerTransaction, type Source } from '../sip/index.ts';

/** Where the test caller listens (loopback, of the app server's address family): never reachable from another host. */
function loopbackFor(address: string): string {
  return isIPv6(address) ? '::1' : '127.0.0.1';
}

export interface TestCallOptions {
  /** The user's SIP name. */
  to: string;
  /** E.164 caller number shown to the user. */
  from: string;
  displayName?: string;
  /** Seconds to stay on the call once answered. */
  durationS: number;
}

export interface TestCallResult {
  sipCallId: string;
  status: number;
  /** RTP packets the caller received from the user's device (proof audio flowed). */
  packetsReceived: number;
}

/** G.711 μ-law encoding of one 16-bit sample (ITU-T G.711). */
function muLaw(sample: number): number {
  const BIAS = 0x84;
  const sign = sample < 0 ? 0x80 : 0;
  let magnitude = Math.min(Math.abs(sample), 32635) + BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (magnitude & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (magnitude >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

/** One second of a 440 Hz tone in PCMU: 50 packets of 160 samples, played in a loop. */
const TONE = Buffer.from(Array.from({ length: 8000 }, (_, i) => muLaw(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 8000)))));

export class TestCaller {
  private readonly endpoint: SipEndpoint;
  private port = 0;

  private readonly host: string;

  constructor(
    private readonly server: Destination,
    private readonly domain: string,
    private readonly log: { info(o: object, m?: string): void },
  ) {
    this.host = loopbackFor(server.address);
    // The app server sends it a few requests per call; anything faster is not the app server.
    this.endpoint = new SipEndpoint({ timers: { T1: 500 }, userAgent: 'Ringside test caller', transport: { rateLimitPerSource: 200 } });
    this.endpoint.user = { admit: (r, source) => this.fromOurCall(r, source), onRequest: (t) => this.onRequest(t), onAck: () => undefined };
  }

  /** A request from the app server inside one of our calls; nothing else gets any answer. */
  private fromOurCall(request: SipRequest, source: Source): boolean {
    return source.address === this.server.address && source.port === this.server.port && request.to.tag !== undefined && this.active.has(request.callId);
  }

  /** The address the app server must trust (`host:port`). */
  get address(): { address: string; port: number } {
    return { address: this.host, port: this.port };
  }

  async start(): Promise<void> {
    this.port = (await this.endpoint.listen({ host: this.host, udp: 0 })).udp!;
  }

  /** Calls in progress by Call-ID, to end them when the user hangs up. */
  private readonly active = new Map<string, { dialog: Dialog; hangUp: () => void }>();

  /** Places the call; resolves when it is over (answered and hung up, or refused). */
  async call(options: TestCallOptions): Promise<TestCallResult> {
    const rtp = dgram.createSocket(isIPv6(this.host) ? 'udp6' : 'udp4');
    rtp.bind(0, this.host);
    await once(rtp, 'listening');
    const rtpPort = rtp.address().port;
    let packetsReceived = 0;
    rtp.on('message', () => packetsReceived++);
    const callId = `${randomToken(10)}@test-caller`;
    const sdp = Buffer.from(
      `v=0\r\no=ringside-test ${Date.now()} 1 IN IP4 ${this.host}\r\ns=Ringside test call\r\nc=IN IP4 ${this.host}\r\nt=0 0\r\n` +
        `m=audio ${rtpPort} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n`,
    );
    const invite = new SipRequest('INVITE', parseUri(`sip:${options.to}@${this.domain}`));
    invite.setHeader('From', `"${(options.displayName ?? 'Ringside test call').replace(/"/g, '')}" <sip:${options.from}@${this.domain}>;tag=${newTag()}`);
    invite.setHeader('To', `<sip:${options.to}@${this.domain}>`);
    invite.setHeader('Call-ID', callId);
    invite.setHeader('CSeq', '1 INVITE');
    invite.setHeader('Contact', this.endpoint.contact('UDP', 'test'));
    invite.setHeader('Content-Type', 'application/sdp');
    invite.body = sdp;

    const final = await new Promise<SipResponse>((resolve) => {
      this.endpoint.request(invite, this.server, {
        onResponse: (r) => r.status >= 200 && resolve(r),
        onTimeout: () => resolve(new SipResponse(408)),
        onTransportError: () => resolve(new SipResponse(503)),
      });
    });
    if (final.status < 200 || final.status >= 300) {
      rtp.close();
      return { sipCallId: callId, status: final.status, packetsReceived };
    }
    const dialog = Dialog.asUac(invite, final, this.server, this.endpoint.contact('UDP', 'test'));
    this.endpoint.sendAck(dialog.createRequest('ACK', { cseq: 1 }), this.server);
    const remote = /^c=IN IP4 (\S+)/m.exec(final.body.toString())?.[1];
    const remotePort = Number(/^m=audio (\d+)/m.exec(final.body.toString())?.[1]);
    this.log.info({ to: options.to, from: options.from }, 'test call answered; playing a tone');

    // 20 ms PCMU packets of the tone until the duration is up, or the user hangs up.
    const ssrc = Math.floor(Math.random() * 0xffffffff);
    let seq = Math.floor(Math.random() * 65535);
    let timestamp = Math.floor(Math.random() * 0xffffffff);
    let offset = 0;
    const packet = Buffer.alloc(12 + 160);
    const player = setInterval(() => {
      if (!remote || !remotePort) return;
      packet[0] = 0x80;
      packet[1] = 0; // PCMU
      packet.writeUInt16BE(seq, 2);
      packet.writeUInt32BE(timestamp >>> 0, 4);
      packet.writeUInt32BE(ssrc >>> 0, 8);
      TONE.copy(packet, 12, offset, offset + 160);
      rtp.send(packet, remotePort, remote);
      seq = (seq + 1) & 0xffff;
      timestamp = (timestamp + 160) >>> 0;
      offset = (offset + 160) % TONE.length;
    }, 20);

    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.active.delete(callId);
        this.endpoint.request(dialog.createRequest('BYE'), this.server, { onResponse: () => resolve(), onTimeout: () => resolve(), onTransportError: () => resolve() });
      }, options.durationS * 1000);
      this.active.set(callId, {
        dialog,
        hangUp: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
    clearInterval(player);
    rtp.close();
    return { sipCallId: callId, status: final.status, packetsReceived };
  }

  /** The user hung up (BYE), or anything else in a test call's dialog. */
  private onRequest(transaction: ServerTransaction): void {
    const request = transaction.request;
    const ok = (status: number) => transaction.respond(createResponse(request, status));
    if (request.method === 'BYE') {
      const call = this.active.get(request.callId);
      this.active.delete(request.callId);
      ok(call ? 200 : 481);
      call?.hangUp();
      return;
    }
    ok(200); // anything else in one of our calls (a re-INVITE, an INFO)
  }

  async close(): Promise<void> {
    for (const c of this.active.values()) c.hangUp();
    await this.endpoint.close();
  }
}
