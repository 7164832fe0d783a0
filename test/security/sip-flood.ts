/**
 * The floods of security review #1 and #8, shared by test/security/sip-blocked-source-flood.test.ts
 * and bench/sip-flood.ts: unique-branch requests from a source whose username is blocked, and
 * unauthenticated INVITEs and failing REGISTERs from many (spoofed) loopback addresses, paced so
 * the kernel does not drop them before the server has read them.
 */
import dgram from 'node:dgram';
import { once } from 'node:events';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';

/** Pads each request, as an attacker would to make every leaked transaction cost more. */
const PADDING = 'x'.repeat(1024);

export interface FloodTarget {
  port: number;
  domain: string;
  /** Datagrams the server has taken off its socket so far (its transport's `stats.received`). */
  received(): number;
}

/** A UDP socket bound to one loopback address (Linux routes all of 127/8 to lo). */
export async function udpSocketOn(address: string): Promise<dgram.Socket & { replies: number }> {
  const socket = Object.assign(dgram.createSocket('udp4'), { replies: 0 });
  socket.on('message', () => socket.replies++);
  socket.bind(0, address);
  await once(socket, 'listening');
  return socket;
}

/** A REGISTER with credentials that cannot be right (a password guess). */
export function guessingRegister(target: FloodTarget, from: { address: string; port: number }, username: string, n: number): Buffer {
  return Buffer.from(
    `REGISTER sip:${target.domain} SIP/2.0\r\nVia: SIP/2.0/UDP ${from.address}:${from.port};branch=z9hG4bK-guess-${n}\r\n` +
      `From: <sip:${username}@${target.domain}>;tag=g${n}\r\nTo: <sip:${username}@${target.domain}>\r\nCall-ID: guess-${n}@attacker\r\nCSeq: 1 REGISTER\r\n` +
      `Contact: <sip:${username}@${from.address}:${from.port}>\r\nMax-Forwards: 70\r\n` +
      `Authorization: Digest realm="${target.domain}", username="${username}", nonce="a.b.c", uri="sip:${target.domain}", response="00000000000000000000000000000000"\r\n` +
      `Content-Type: text/plain\r\nContent-Length: ${PADDING.length}\r\n\r\n${PADDING}`,
  );
}

/** An INVITE with no credentials (what a scanner, or a reflection attack with a spoofed source, sends). */
export function anonymousInvite(target: FloodTarget, from: { address: string; port: number }, n: number): Buffer {
  const sdp =
    `v=0\r\no=- ${n} 1 IN IP4 ${from.address}\r\ns=-\r\nc=IN IP4 ${from.address}\r\nt=0 0\r\na=x-pad:${PADDING}\r\n` +
    `m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n`;
  return Buffer.from(
    `INVITE sip:alice@${target.domain} SIP/2.0\r\nVia: SIP/2.0/UDP ${from.address}:${from.port};branch=z9hG4bK-inv-${n}\r\n` +
      `From: <sip:scanner@${target.domain}>;tag=i${n}\r\nTo: <sip:alice@${target.domain}>\r\nCall-ID: inv-${n}@attacker\r\nCSeq: 1 INVITE\r\n` +
      `Contact: <sip:scanner@${from.address}:${from.port}>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: ${Buffer.byteLength(sdp)}\r\n\r\n${sdp}`,
  );
}

/**
 * Sends `count` datagrams made by `build(i)` from `sockets` (round robin), keeping at most
 * `window` of them not yet read by the server. Yields to the event loop (and so to the server,
 * in this process, and to legitimate calls running meanwhile) between sends.
 */
export async function pacedFlood(
  target: FloodTarget,
  sockets: dgram.Socket[],
  count: number,
  build: (socket: dgram.Socket, i: number) => Buffer,
  options: { window?: number; deadlineMs?: number } = {},
): Promise<{ sent: number; received: number }> {
  const window = options.window ?? 64;
  const start = target.received();
  const deadline = Date.now() + (options.deadlineMs ?? 120_000);
  let sent = 0;
  let stalledSince = Date.now();
  let lastSeen = start;
  while (sent < count && Date.now() < deadline) {
    const seen = target.received();
    if (seen !== lastSeen) {
      lastSeen = seen;
      stalledSince = Date.now();
    }
    // Datagrams the kernel dropped never arrive: after 200 ms without progress, stop waiting for them.
    const inFlight = sent - (seen - start);
    if (inFlight < window || Date.now() - stalledSince > 200) {
      for (let k = 0; k < 16 && sent < count; k++, sent++) {
        const socket = sockets[sent % sockets.length]!;
        socket.send(build(socket, sent), target.port, '127.0.0.1');
      }
      if (Date.now() - stalledSince > 200) stalledSince = Date.now();
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return { sent, received: target.received() - start };
}

/** Runs a full garbage collection (V8's gc, exposed at run time) so heap figures mean something. */
export function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
}

/** Samples this process's RSS every 50 ms; `stop()` returns the peak (MB). */
export function rssSampler(): { stop(): number } {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 50);
  return {
    stop() {
      clearInterval(timer);
      return mb(Math.max(peak, process.memoryUsage.rss()));
    },
  };
}

export function mb(bytes: number): number {
  return Math.round((bytes / (1024 * 1024)) * 10) / 10;
}
