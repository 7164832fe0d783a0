/**
 * A stand-in SIP carrier for trunk calls: a UDP socket on 127.0.0.1 that records the requests
 * reaching it and answers every INVITE with one fixed failure (486 Busy Here unless told).
 */
import dgram from 'node:dgram';
import { once } from 'node:events';
import { newTag, parseMessage, type SipRequest, type SipResponse } from '../../src/sip/index.ts';
import { TEST_SDP } from './sip-phone.ts';
import { waitFor } from './wait.ts';

export class StubCarrier {
  readonly invites: SipRequest[] = [];
  readonly responses: SipResponse[] = [];

  private constructor(
    private readonly socket: dgram.Socket,
    private readonly answer: { status: number; reason: string },
  ) {
    socket.on('message', (buf, rinfo) => {
      let m;
      try {
        m = parseMessage(buf);
      } catch {
        return;
      }
      if (!m.isRequest) {
        this.responses.push(m);
        return;
      }
      if (m.method === 'ACK') return;
      if (m.method === 'INVITE') this.invites.push(m);
      const [status, reason] = m.method === 'INVITE' ? [this.answer.status, this.answer.reason] : [200, 'OK'];
      const vias = m.headerValues('Via').map((v) => `Via: ${v}`).join('\r\n');
      const reply = `SIP/2.0 ${status} ${reason}\r\n${vias}\r\nFrom: ${m.header('From')}\r\nTo: ${m.header('To')};tag=carrier1\r\nCall-ID: ${m.callId}\r\nCSeq: ${m.header('CSeq')}\r\nContent-Length: 0\r\n\r\n`;
      socket.send(reply, rinfo.port, rinfo.address);
    });
  }

  static async start(answer = { status: 486, reason: 'Busy Here' }): Promise<StubCarrier> {
    const socket = dgram.createSocket('udp4');
    socket.bind(0, '127.0.0.1');
    await once(socket, 'listening');
    return new StubCarrier(socket, answer);
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** The carrier delivers a call from `caller` to one of our DIDs; resolves with its first response of `status` or more. */
  async invite(serverPort: number, did: string, caller: string, until = 200): Promise<SipResponse> {
    const callId = `${newTag()}@carrier`;
    const sdp = TEST_SDP().toString();
    const message =
      `INVITE sip:${did}@127.0.0.1:${serverPort} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${this.port};branch=z9hG4bK${newTag()}\r\n` +
      `From: <sip:${caller}@carrier.example>;tag=${newTag()}\r\nTo: <sip:${did}@127.0.0.1>\r\nCall-ID: ${callId}\r\nCSeq: 1 INVITE\r\n` +
      `Contact: <sip:${caller}@127.0.0.1:${this.port}>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: ${Buffer.byteLength(sdp)}\r\n\r\n${sdp}`;
    this.socket.send(message, serverPort, '127.0.0.1');
    return waitFor(() => this.responses.find((r) => r.callId === callId && r.status >= until), { timeoutMs: 10_000, what: `a ${until}+ response` });
  }

  close(): void {
    this.socket.close();
  }
}
