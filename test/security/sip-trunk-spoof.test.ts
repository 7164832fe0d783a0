/**
 * Security review #16: a UDP trunk is recognised by its source address, which anyone can forge.
 * A UDP INVITE "from" the trunk's address whose Via does not name the trunk is dropped (no ring,
 * no answer, no state); and each trunk has a cap on new calls per second (503 beyond it).
 */
import dgram from 'node:dgram';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newTag, parseMessage, type SipResponse } from '../../src/sip/index.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { TEST_SDP, TestPhone } from '../support/sip-phone.ts';
import { waitFor } from '../support/wait.ts';

const TRUNK_ADDRESS = '127.0.0.6';

describe('spoofed trunk calls', () => {
  let server: TestServer;
  let trunk: dgram.Socket;
  let forger: dgram.Socket;
  const responses: SipResponse[] = [];
  let sipPort: number;
  let alice: TestPhone;

  async function socketOn(address: string): Promise<dgram.Socket> {
    const socket = dgram.createSocket('udp4');
    socket.on('message', (buf) => {
      const m = parseMessage(buf);
      if (!m.isRequest) responses.push(m);
    });
    socket.bind(0, address);
    await once(socket, 'listening');
    return socket;
  }

  beforeAll(async () => {
    trunk = await socketOn(TRUNK_ADDRESS);
    // The forger sends from the trunk's address too (any port: the trunk is trusted by address alone).
    forger = await socketOn(TRUNK_ADDRESS);
    server = await startServer({
      env: {
        SIP_RING_TIMEOUT_S: '5',
        TRUNKS: JSON.stringify([{ name: 'carrier', host: TRUNK_ADDRESS, inbound_addresses: [TRUNK_ADDRESS], max_calls_per_second: 2, dids: { '+14155550100': ['alice'] } }]),
      },
    });
    sipPort = server.ringside.sip.ports.udp!;
    alice = await TestPhone.start({ user: 'alice', password: 'ringside-demo', domain: '127.0.0.1', server: { address: '127.0.0.1', port: sipPort }, answer: 'busy' });
    expect((await alice.register()).status).toBe(200);
  });
  afterAll(async () => {
    await alice?.close();
    trunk?.close();
    forger?.close();
    await server?.stop();
  });

  function invite(socket: dgram.Socket, viaHost: string): string {
    const callId = `${newTag()}@carrier`;
    const sdp = TEST_SDP().toString();
    const port = socket.address().port;
    socket.send(
      `INVITE sip:+14155550100@127.0.0.1:${sipPort} SIP/2.0\r\nVia: SIP/2.0/UDP ${viaHost}:${port};branch=z9hG4bK${newTag()}\r\n` +
        `From: "Bank" <sip:+18005550100@carrier.example>;tag=${newTag()}\r\nTo: <sip:+14155550100@127.0.0.1>\r\nCall-ID: ${callId}\r\nCSeq: 1 INVITE\r\n` +
        `Contact: <sip:+18005550100@${viaHost}:${port}>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: ${sdp.length}\r\n\r\n${sdp}`,
      sipPort,
      '127.0.0.1',
    );
    return callId;
  }

  const finalTo = (callId: string) => waitFor(() => responses.find((r) => r.callId === callId && r.status >= 200), { timeoutMs: 8000, what: `a final response to ${callId}` });

  it('drops a UDP INVITE from the trunk’s address whose Via names somebody else', async () => {
    const received = server.ringside.sip.endpoint.transport.stats.received;
    const before = server.ringside.sip.endpoint.transactions.size.servers;
    const spoofed = invite(forger, '203.0.113.66');
    await waitFor(() => server.ringside.sip.endpoint.transport.stats.received > received, { what: 'the server to read it' });
    expect(server.ringside.sip.endpoint.transactions.size.servers).toBe(before);
    // The real trunk's next call rings alice (busy) — and alice never saw the forged one.
    const real = invite(trunk, TRUNK_ADDRESS);
    expect((await finalTo(real)).status).toBe(486);
    expect(alice.calls.map((c) => c.request.header('Call-ID'))).not.toContain(spoofed);
    expect(responses.some((r) => r.callId === spoofed)).toBe(false);
  });

  it('refuses calls beyond the trunk’s max_calls_per_second with 503', async () => {
    const ids = Array.from({ length: 12 }, () => invite(trunk, TRUNK_ADDRESS));
    const finals = await Promise.all(ids.map(finalTo));
    const statuses = finals.map((r) => r.status);
    expect(statuses.filter((s) => s === 503).length).toBeGreaterThanOrEqual(6); // a burst of 2 s × 2/s, at most 4 (+1 refilled) through
    expect(statuses.filter((s) => s === 486).length).toBeGreaterThanOrEqual(1);
  });
});
