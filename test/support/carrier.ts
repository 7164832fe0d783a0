/**
 * A stand-in SIP carrier for trunk calls: a UDP socket on 127.0.0.1 that records the requests
 * reaching it and answers every INVITE with one fixed failure (486 Busy Here unless told).
 */
import dgram from 'node:dgram';
import { once } from 'node:events';
import { parseMessage, type SipRequest } from '../../src/sip/index.ts';

export class StubCarrier {
  readonly invites: SipRequest[] = [];

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
      if (!m.isRequest || m.method === 'ACK') return;
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

  close(): void {
    this.socket.close();
  }
}
