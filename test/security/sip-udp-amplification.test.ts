/**
 * Security review #8 (issue 13 item 6): a spoofed UDP INVITE must not turn the server into an
 * amplifier. An unauthenticated out-of-dialog INVITE gets exactly one 407 — no Timer G
 * retransmissions over the 64*T1 window, no transaction kept; a bad password one 403; and
 * malformed requests are answered only within the per-address rate limit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMessage, type SipResponse } from '../../src/sip/index.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';
import { anonymousInvite, udpSocketOn, type FloodTarget } from './sip-flood.ts';

const T1 = 50;

describe('UDP reflection and amplification', () => {
  let server: TestServer;
  let target: FloodTarget;

  beforeAll(async () => {
    server = await startServer({ env: { SIP_T1_MS: String(T1), SIP_RATE_LIMIT: '20' } });
    const transport = server.ringside.sip.endpoint.transport;
    target = { port: server.ringside.sip.ports.udp!, domain: '127.0.0.1', received: () => transport.stats.received };
  });
  afterAll(async () => {
    await server?.stop();
  });

  /** A "victim" whose address the attacker forges: it never ACKs, it only counts what it is sent. */
  async function victim(address: string) {
    const socket = await udpSocketOn(address);
    const responses: SipResponse[] = [];
    socket.on('message', (buf) => {
      const m = parseMessage(buf);
      if (!m.isRequest) responses.push(m);
    });
    return { socket, responses, from: { address, port: socket.address().port } };
  }

  /** Everything the victim receives within the window a kept transaction would retransmit in (64*T1), and a bit. */
  const window = () => new Promise((resolve) => setTimeout(resolve, 64 * T1 + 1000));

  it('answers a spoofed unauthenticated INVITE with exactly one 407, keeping no transaction', async () => {
    const v = await victim('127.0.0.7');
    try {
      const before = server.ringside.sip.endpoint.transactions.size.servers;
      v.socket.send(anonymousInvite(target, v.from, 1), target.port, '127.0.0.1');
      await waitFor(() => v.responses.length > 0, { what: 'the 407' });
      expect(v.responses[0]!.status).toBe(407);
      expect(server.ringside.sip.endpoint.transactions.size.servers).toBe(before);
      await window();
      expect(v.responses.map((r) => r.status)).toEqual([407]);
    } finally {
      v.socket.close();
    }
  });

  it('answers a spoofed INVITE with wrong credentials with exactly one 403', async () => {
    const v = await victim('127.0.0.8');
    try {
      const invite = anonymousInvite(target, v.from, 2)
        .toString()
        .replace('Max-Forwards: 70\r\n', 'Max-Forwards: 70\r\nProxy-Authorization: Digest realm="127.0.0.1", username="alice", nonce="a.b.c", uri="sip:alice@127.0.0.1", response="0"\r\n');
      v.socket.send(invite, target.port, '127.0.0.1');
      await waitFor(() => v.responses.length > 0, { what: 'the 403' });
      await window();
      expect(v.responses.map((r) => r.status)).toEqual([403]);
    } finally {
      v.socket.close();
    }
  });

  it('answers malformed requests only within the rate limit', async () => {
    const v = await victim('127.0.0.9');
    try {
      // A request line the parser rejects, with the Via and CSeq a 400 can be built from.
      const bad = (i: number) =>
        Buffer.from(`OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP ${v.from.address}:${v.from.port};branch=z9hG4bK-bad${i}\r\nCSeq: 1 OPTIONS\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: bad${i}\r\nContent-Length: 99999\r\n\r\n`);
      for (let i = 0; i < 300; i++) v.socket.send(bad(i), target.port, '127.0.0.1');
      await waitFor(() => server.ringside.sip.endpoint.transport.stats.parseErrors >= 300, { what: 'all 300 read' });
      await waitFor(() => v.responses.length > 0, { what: 'the first 400s' });
      expect(v.responses.every((r) => r.status === 400)).toBe(true);
      expect(v.responses.length).toBeLessThanOrEqual(41); // the burst allowance (2 s of 20/s), not 300
    } finally {
      v.socket.close();
    }
  });
});
