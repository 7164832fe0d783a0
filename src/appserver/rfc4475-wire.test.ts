/**
 * Every RFC 4475 torture message sent to a running Ringside over UDP, as RFC 4475 says an element
 * in its role must answer: the status it names, "processed" (any answer but 400/505 or silence),
 * or nothing at all for responses that must be dropped. The server keeps serving throughout.
 */
import dgram from 'node:dgram';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMessage } from '../sip/index.ts';
import { PROCESSED, TORTURE_MESSAGES } from '../../test/support/rfc4475.ts';
import { startServer, type TestServer } from '../../test/support/server.ts';
import { waitFor } from '../../test/support/wait.ts';

function callIdOf(text: string): string | undefined {
  return /^(?:Call-ID|i)[ \t]*:[ \t]*(.*?)\r?$/im.exec(text)?.[1]?.trim();
}

/**
 * Some fixtures share a Via branch and sent-by (cparam01/cparam02, unkscm/novelsc): to a server
 * they are retransmissions of one transaction (RFC 3261 §17.2.3) and get its response again. Each
 * such repeat goes to a server of its own, so every message is judged on its own.
 */
function transactionKey(bytes: Buffer): string | undefined {
  try {
    const m = parseMessage(bytes);
    return m.isRequest ? `${m.topVia.branch}|${m.topVia.sentBy}|${m.method}` : undefined;
  } catch {
    return undefined;
  }
}

describe('RFC 4475 torture messages over the wire', () => {
  let server: TestServer;
  const servers: TestServer[] = [];
  const seenKeys: Set<string>[] = [];
  let socket: dgram.Socket;
  /** Responses as raw text: the answer to a malformed request repeats its malformed headers, so it need not parse. */
  const responses: { status: number; callId: string | undefined }[] = [];
  let probes = 0;

  beforeAll(async () => {
    server = await startServer({ env: { SIP_RATE_LIMIT: '0' } });
    servers.push(server);
    seenKeys.push(new Set());
    socket = dgram.createSocket('udp4');
    socket.bind(0, '127.0.0.1');
    await once(socket, 'listening');
    socket.on('message', (buf) => {
      const text = buf.toString('latin1');
      const status = /^SIP\/2\.0 (\d{3}) /.exec(text);
      if (status) responses.push({ status: Number(status[1]), callId: callIdOf(text) });
    });
  });
  afterAll(async () => {
    socket?.close();
    await Promise.all(servers.map((x) => x.stop()));
  });

  /** The first server that has not seen this transaction yet. */
  async function serverFor(bytes: Buffer): Promise<TestServer> {
    const key = transactionKey(bytes);
    if (!key) return servers[0]!;
    let i = seenKeys.findIndex((keys) => !keys.has(key));
    if (i < 0) {
      servers.push(await startServer({ env: { SIP_RATE_LIMIT: '0' } }));
      seenKeys.push(new Set());
      i = servers.length - 1;
    }
    seenKeys[i]!.add(key);
    return servers[i]!;
  }

  /**
   * Sends the message and waits for an OPTIONS probe sent right after it to be answered: the
   * server handles one socket's datagrams in order, so by then any answer to the message has come.
   */
  async function exchange(bytes: Buffer): Promise<number> {
    const port = (await serverFor(bytes)).ringside.sip.ports.udp!;
    const before = responses.length;
    socket.send(bytes, port, '127.0.0.1');
    const probe = `probe${++probes}`;
    socket.send(
      `OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${socket.address().port};branch=z9hG4bK${probe}\r\nFrom: <sip:p@127.0.0.1>;tag=p\r\n` +
        `To: <sip:127.0.0.1>\r\nCall-ID: ${probe}@t\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`,
      port,
      '127.0.0.1',
    );
    await waitFor(() => responses.some((r) => r.callId === `${probe}@t`), { what: `answer to ${probe}` });
    return before;
  }

  for (const message of TORTURE_MESSAGES) {
    const label = `${message.file} (${message.section ? `§${message.section}` : 'not RFC 4475'} ${message.title})`;
    it(`${label} → ${message.expectedResponse === null ? 'dropped' : message.expectedResponse}`, async () => {
      const before = await exchange(message.bytes);
      // Answers that involve the database (authentication) may come after the probe's: match by Call-ID.
      const callId = callIdOf(message.bytes.toString('latin1'));
      const mine = () => responses.slice(before).filter((r) => !r.callId?.startsWith('probe') && r.callId === callId);
      const expected = message.expectedResponse;
      if (expected === null) {
        expect(mine()).toEqual([]);
        return;
      }
      // Finals only: a 100 Trying comes first for INVITEs.
      const final = await waitFor(() => mine().find((r) => r.status >= 200), { what: `a final answer to ${message.file}` });
      if (expected === PROCESSED) {
        expect([400, 505]).not.toContain(final.status);
      } else if (message.role === 'registrar' && expected === 200) {
        // "200 once authenticated": the fixtures' users do not exist here, so the registrar's
        // challenge shows the request was understood (parsed and taken to authentication).
        expect(final.status).toBe(401);
      } else {
        expect(final.status).toBe(expected);
      }
    });
  }

  it('is still serving after all of them', async () => {
    const answers = await fetch(`${server.url}/healthz`);
    expect(answers.status).toBe(200);
  });
});
