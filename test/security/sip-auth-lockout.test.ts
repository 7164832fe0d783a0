/**
 * Security review #3 and #26 (issue 13 item 4, "One client cannot lock out others"). Failures
 * count per (source, username) and per connection:
 * - 50 bad REGISTERs over anonymous WebSockets from 127.0.0.1 (every browser's address behind a
 *   reverse proxy) do not stop alice's widget (bound to her by the gateway) nor her SIP client that
 *   already authenticated on its WebSocket, on the same address, from re-registering and being called;
 * - failing REGISTERs "from" the trunk's address (over UDP anyone can send them) do not stop its calls;
 * - a full failure table never forgets a guesser's count (no flush).
 */
import dgram from 'node:dgram';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SourceGuard } from '../../src/appserver/source-guard.ts';
import { newTag, parseMessage, type SipResponse } from '../../src/sip/index.ts';
import { HttpClient, startServer, type TestServer } from '../support/server.ts';
import { TEST_SDP } from '../support/sip-phone.ts';
import { waitFor } from '../support/wait.ts';
import { WsSipClient } from '../support/ws-sip-client.ts';
import { guessingRegister, udpSocketOn } from './sip-flood.ts';

const TRUNK_ADDRESS = '127.0.0.5';

/** A carrier on its own loopback address: it delivers calls to a DID and records the answers. */
class Carrier {
  readonly responses: SipResponse[] = [];
  private constructor(readonly socket: dgram.Socket) {
    socket.on('message', (buf) => {
      const m = parseMessage(buf);
      if (!m.isRequest) this.responses.push(m);
      else if (m.method !== 'ACK') {
        const vias = m.headerValues('Via').map((v) => `Via: ${v}`).join('\r\n');
        socket.send(`SIP/2.0 200 OK\r\n${vias}\r\nFrom: ${m.header('From')}\r\nTo: ${m.header('To')}\r\nCall-ID: ${m.callId}\r\nCSeq: ${m.header('CSeq')}\r\nContent-Length: 0\r\n\r\n`, m.topVia.port ?? 5060, TRUNK_ADDRESS);
      }
    });
  }
  static async start(): Promise<Carrier> {
    const socket = dgram.createSocket('udp4');
    socket.bind(0, TRUNK_ADDRESS);
    await once(socket, 'listening');
    return new Carrier(socket);
  }
  get port(): number {
    return this.socket.address().port;
  }
  invite(serverPort: number, did: string): string {
    const callId = `${newTag()}@carrier`;
    const sdp = TEST_SDP().toString();
    this.socket.send(
      `INVITE sip:${did}@127.0.0.1:${serverPort} SIP/2.0\r\nVia: SIP/2.0/UDP ${TRUNK_ADDRESS}:${this.port};branch=z9hG4bK${newTag()}\r\n` +
        `From: "Customer" <sip:+14155550199@carrier.example>;tag=${newTag()}\r\nTo: <sip:${did}@127.0.0.1>\r\nCall-ID: ${callId}\r\nCSeq: 1 INVITE\r\n` +
        `Contact: <sip:+14155550199@${TRUNK_ADDRESS}:${this.port}>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: ${sdp.length}\r\n\r\n${sdp}`,
      serverPort,
      '127.0.0.1',
    );
    return callId;
  }
}

describe('one client cannot lock out others', () => {
  let server: TestServer;
  let carrier: Carrier;
  let sipPort: number;
  let wsUrl: string;

  beforeAll(async () => {
    carrier = await Carrier.start();
    server = await startServer({
      env: {
        SIP_AUTH_FAILURE_LIMIT: '10',
        TRUNKS: JSON.stringify([{ name: 'carrier', host: TRUNK_ADDRESS, port: carrier.port, dids: { '+14155550100': ['alice'] } }]),
      },
    });
    sipPort = server.ringside.sip.ports.udp!;
    wsUrl = `${server.url.replace(/^http/, 'ws')}/sip`;
  });
  afterAll(async () => {
    carrier?.socket.close();
    await server?.stop();
  });

  /**
   * One bad REGISTER over an anonymous WebSocket (reconnecting when the server closed the last
   * one): resolves once the server has read it — the attacker does not wait for answers.
   */
  async function badRegister(ws: WsSipClient | undefined, username: string, n: number): Promise<WsSipClient> {
    const client = ws && ws.ws.readyState === ws.ws.OPEN ? ws : await WsSipClient.connect(wsUrl, { user: username, password: 'guess', domain: '127.0.0.1', headers: { origin: server.url } });
    const stats = server.ringside.sip.endpoint.transport.stats;
    const before = stats.received;
    client.ws.send(
      `REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WS attacker.invalid;branch=z9hG4bK-ws-${n}\r\nFrom: <sip:${username}@127.0.0.1>;tag=a${n}\r\n` +
        `To: <sip:${username}@127.0.0.1>\r\nCall-ID: ws-${n}@attacker\r\nCSeq: 1 REGISTER\r\nContact: <sip:${username}@attacker.invalid;transport=ws>\r\nMax-Forwards: 70\r\n` +
        `Authorization: Digest realm="127.0.0.1", username="${username}", nonce="a.b.c", uri="sip:127.0.0.1", response="0"\r\nContent-Length: 0\r\n\r\n`,
    );
    await waitFor(() => stats.received > before || client.ws.readyState !== client.ws.OPEN, { what: 'the server to read the guess' });
    return client;
  }

  it('50 bad REGISTERs over an anonymous WebSocket do not stop alice’s registered clients on the same address', async () => {
    // alice's widget: a WebSocket the gateway bound to her web session.
    const web = new HttpClient(server.url);
    expect((await web.login('alice@example.com')).status).toBe(200);
    const widget = await WsSipClient.connect(wsUrl, { user: 'alice', password: 'unused', domain: '127.0.0.1', headers: { cookie: `rs_session=${web.cookie('rs_session')}`, origin: server.url } });
    // alice's SIP client on an anonymous WebSocket that authenticated with her device password.
    const softphone = await WsSipClient.connect(wsUrl, { user: 'alice', password: 'ringside-demo', domain: '127.0.0.1', headers: { origin: server.url } });
    let attacker: WsSipClient | undefined;
    try {
      expect((await widget.register()).status).toBe(200);
      expect((await softphone.register()).status).toBe(200);

      // The attacker, on the same address: guesses for alice herself and for other names.
      for (let i = 0; i < 50; i++) attacker = await badRegister(attacker, i % 2 === 0 ? 'alice' : `user${i}`, i);
      // The guessing worked as it should: a new client from this address may not try alice's password now.
      const guard = server.ringside.sip['guard'] as unknown as { isBlocked(source: object, username: string): boolean };
      await waitFor(() => guard.isBlocked({ protocol: 'WS', address: '127.0.0.1', port: 1 }, 'alice'), { what: 'alice blocked for new clients from 127.0.0.1' });

      // Both of alice's clients still refresh their registrations...
      expect((await widget.register()).status).toBe(200);
      expect((await softphone.register()).status).toBe(200);
      // ...and are called: a call to her DID rings both.
      carrier.invite(sipPort, '+14155550100');
      const [a, b] = await Promise.all([widget.nextRequest('INVITE'), softphone.nextRequest('INVITE')]);
      widget.respond(a, 486, { toTag: newTag() });
      softphone.respond(b, 486, { toTag: newTag() });
    } finally {
      await Promise.all([widget.close(), softphone.close(), attacker?.close()]);
    }
  });

  it('failing REGISTERs "from" the trunk’s address do not stop its calls', async () => {
    const from = { address: TRUNK_ADDRESS, port: carrier.port };
    const before = carrier.responses.length;
    for (let i = 0; i < 50; i++) carrier.socket.send(guessingRegister({ port: sipPort, domain: '127.0.0.1', received: () => 0 }, from, i % 2 ? 'carrier' : `x${i}`, 1000 + i), sipPort, '127.0.0.1');
    await waitFor(() => carrier.responses.length - before >= 50, { what: '50 answers to the bad REGISTERs' });
    expect(carrier.responses.slice(before).every((r) => r.status === 403)).toBe(true);

    // The carrier's next call is routed as ever (nobody is registered for the DID now: 480, not silence).
    const callId = carrier.invite(sipPort, '+14155550100');
    const final = await waitFor(() => carrier.responses.find((r) => r.callId === callId && r.status >= 200), { timeoutMs: 8000, what: 'a final response to the trunk call' });
    expect(final.status).toBe(480);
  });

  it('a blocked guesser cannot slip past its block by disguising the username it guesses', async () => {
    const attacker = await udpSocketOn('127.0.0.7');
    const from = { address: '127.0.0.7', port: attacker.address().port };
    const target = { port: sipPort, domain: '127.0.0.1', received: () => 0 };
    try {
      for (let i = 0; i < 10; i++) attacker.send(guessingRegister(target, from, 'x', 2000 + i), sipPort, '127.0.0.1');
      await waitFor(() => attacker.replies >= 10, { what: 'ten 403s' });
      const guess = (n: number) => guessingRegister(target, from, 'x', n).toString();
      const disguised = [
        // A look-alike parameter before the real username.
        guess(3000).replace('nonce="a.b.c"', 'nonce="username=decoy"').replace('Digest realm=', 'Digest opaque="username=decoy", realm='),
        // Another realm's credentials first, naming someone else.
        guess(3001).replace('Authorization: Digest', 'Authorization: Digest realm="elsewhere", username="decoy", nonce="n", uri="sip:x", response="0"\r\nAuthorization: Digest'),
      ];
      for (const message of disguised) attacker.send(message, sipPort, '127.0.0.1');
      // The same guess undisguised, from a fresh address, is answered: the server read the others and dropped them.
      const witness = await udpSocketOn('127.0.0.8');
      try {
        witness.send(guessingRegister(target, { address: '127.0.0.8', port: witness.address().port }, 'x', 3002), sipPort, '127.0.0.1');
        await waitFor(() => witness.replies >= 1, { what: "the witness's 403" });
      } finally {
        witness.close();
      }
      expect(attacker.replies).toBe(10);
    } finally {
      attacker.close();
    }
  });

  it('a flood of other failures never resets a guesser’s count (the full table is not flushed)', () => {
    let now = 1_000_000;
    const guard = new SourceGuard({ limit: 5, blockMinutes: 15, maxEntries: 1000, clock: () => now });
    const guesser = { protocol: 'UDP' as const, address: '198.51.100.1', port: 5060 };
    for (let i = 0; i < 4; i++) expect(guard.failed(guesser, 'alice')).toBe(false);
    // 100,000 spoofed failures from other addresses, far beyond the table's size.
    for (let i = 0; i < 100_000; i++) guard.failed({ protocol: 'UDP', address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, port: 5060 }, 'x');
    expect(guard.size.failures).toBeLessThanOrEqual(1000);
    expect(guard.size.blocked).toBeLessThanOrEqual(1000);
    now += 1000;
    // The guesser's fifth failure still blocks it.
    expect(guard.failed(guesser, 'alice')).toBe(true);
    expect(guard.isBlocked(guesser, 'alice')).toBe(true);
    expect(guard.isBlocked(guesser, 'bob')).toBe(false);
  });
});
