/**
 * bench/sip-fuzz — mutated SIP messages through the parser and a server transaction path.
 *
 * The corpus is every file of test/fixtures/rfc4475 plus well-formed messages generated here
 * (methods, URIs with parameters and IPv6 hosts, quoted display names with escapes, several Vias,
 * compact names, folded lines, bodies). Each fuzz message is one of them with 0–5 seeded mutations
 * (lines deleted, duplicated or swapped; bits flipped; the message cut short; line ends, NULs,
 * separators or huge numbers put in; numbers replaced; a byte repeated; two messages spliced), sent
 * through `serverTransactionPath` as one UDP datagram. Same seed, same messages.
 *
 *   crash — anything thrown that is not a SipParseError (SipMessageError is one);
 *   hang  — a message over the time budget (default 50 ms);
 *   max_ms — the slowest message. Any message over 1 ms is timed twice more and counts with its
 *            fastest run, so that a GC pause or a JIT compilation falling into it is not taken for
 *            the parser's own time.
 *
 * Prints one JSON object: {messages, parsed, rejected, crashes, hangs, max_ms, msgs_per_s}; the
 * first crashes and hangs go to stderr as base64, to replay.
 *
 *   npm run bench:sip-fuzz [-- --messages 1000000 --seed 4475 --budget-ms 50]
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { prng } from '../src/shared/prng.ts';
import { createResponse, parseMessage, quote, SipParseError, type AnySipMessage } from '../src/sip/message/index.ts';
import { TransactionLayer } from '../src/sip/transactions/index.ts';
import { TransportLayer } from '../src/sip/transport/index.ts';

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '1000000' },
    seed: { type: 'string', default: '4475' },
    'budget-ms': { type: 'string', default: '50' },
  },
});
const MESSAGES = Number(args.messages);
const BUDGET_MS = Number(args['budget-ms']);
const log = (msg: string) => process.stderr.write(`[sip-fuzz] ${msg}\n`);

const rand = prng(Number(args.seed));
const int = (n: number) => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
const chance = (p: number) => rand() < p;

// ------------------------------------------------------------------ the server side under test

/**
 * What a UDP datagram meets on arrival: the parser (whose verdict is counted), then the real
 * transport layer (parsing again, Via stamping, rate limit off) and transaction layer, with a
 * transaction user that answers every request at once (486 to INVITE, to run the failure path
 * with its retransmissions and ACK matching; 200 to the rest). Nothing goes on the network: the
 * transport has no socket. An exception escaping any of it, or one the transport layer had to
 * catch from the layers above, is a crash.
 */
const SOURCE = { protocol: 'UDP' as const, address: '127.0.0.1', port: 5070 };
let caughtAbove = 0;
const transport = new TransportLayer({
  rateLimitPerSource: 0,
  logger: { info() {}, debug() {}, warn: (o: object, msg?: string) => void (msg === 'error handling SIP message' && (caughtAbove++, log(`caught above the transport: ${JSON.stringify(o)}`))) },
});
const transactions = new TransactionLayer(transport, { T1: 1 });
transport.delegate = { onMessage: (message, source) => transactions.receive(message, source) };
transactions.user = {
  onRequest: (t) => t.respond(createResponse(t.request, t.request.method === 'INVITE' ? 486 : 200, t.isInvite ? { toTag: t.localTag } : {})),
  onAck: () => undefined,
};

export function serverTransactionPath(buf: Buffer): AnySipMessage {
  const before = caughtAbove;
  try {
    transport.receive(buf, SOURCE);
  } finally {
    if (caughtAbove !== before) throw new Error('the transaction layer or its user threw');
  }
  return parseMessage(buf);
}

// ------------------------------------------------------------------ corpus

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const FIXTURE_DIR = path.resolve(ROOT, 'test/fixtures/rfc4475');
const fixtures = readdirSync(FIXTURE_DIR)
  .filter((f) => f.endsWith('.dat'))
  .sort()
  .map((f) => readFileSync(path.join(FIXTURE_DIR, f)));

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const word = (alphabet: string, min: number, max: number) => Array.from({ length: min + int(max - min + 1) }, () => pick([...alphabet])).join('');
const token = () => word(`${ALNUM}-.!%*_+\`'~`, 1, 10);
const host = () =>
  pick([
    () => `${word('abcdefghijklmnopqrstuvwxyz', 1, 8)}.${pick(['example.com', 'example.net', 'sip.example.org'])}`,
    () => `192.0.2.${int(256)}`,
    () => `[2001:db8::${int(0xffff).toString(16)}]`,
    () => `[::ffff:198.51.100.${int(256)}]`,
  ])();
const port = () => (chance(0.4) ? `:${1 + int(65535)}` : '');
const user = () => word(`${ALNUM}-_.!~*'()&=+$,;?/`, 1, 10) + (chance(0.2) ? `%${int(256).toString(16).padStart(2, '0')}` : '');
const uriParams = () => Array.from({ length: int(3) }, () => (chance(0.3) ? `;${word('abcdefghijklmnopqrstuvwxyz', 1, 6)}` : `;${pick(['transport', 'lr', 'maddr', 'user', 'x-p'])}=${word(`${ALNUM}-_.!~*[]/:&+$`, 1, 8)}`)).join('');
const sipUri = (headers: boolean) =>
  `${pick(['sip', 'sips'])}:${chance(0.8) ? `${user()}@` : ''}${host()}${port()}${uriParams()}${headers && chance(0.2) ? `?Subject=${word(ALNUM, 1, 6)}` : ''}`;
const displayName = () =>
  pick([
    () => '',
    () => `${token()} `,
    () => `${quote(`${word(`${ALNUM} "\\,<>;:@`, 0, 12)}${pick(['', 'é', '大', '\t', '\x07'])}`)} `,
  ])();
const nameAddr = (tag: boolean) =>
  `${displayName()}<${sipUri(true)}>${chance(0.3) ? `;${word('abcdefghijklmnopqrstuvwxyz', 1, 6)}=${quote(word(`${ALNUM} ;,`, 0, 8))}` : ''}${tag ? `;tag=${token()}` : ''}`;
const fold = (a: string, b: string) => `${a}${pick([' ', ' ', ' ', '\r\n ', '\r\n\t'])}${b}`;
const name = (long: string, compact?: string) => pick([long, long.toLowerCase(), long.toUpperCase(), ...(compact ? [compact] : [])]);
const METHODS = ['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER', 'SUBSCRIBE', 'NOTIFY', 'MESSAGE', 'INFO', 'UPDATE', 'PRACK', 'REFER'];

/** A well-formed request or response, in any of the forms RFC 3261 allows. */
function generate(): Buffer {
  const method = pick(METHODS);
  const isRequest = chance(0.7);
  const start = isRequest ? `${method} ${sipUri(false)} SIP/2.0` : `SIP/2.0 ${100 + int(600)} ${pick(['OK', 'Ringing', 'Not Found', '', 'Très bien'])}`;
  const vias = Array.from({ length: 1 + int(4) }, () => `SIP/2.0/${pick(['UDP', 'TCP', 'TLS', 'WS'])} ${host()}${port()};branch=z9hG4bK${token()}${chance(0.3) ? ';rport' : ''}`);
  const lines: string[] = [];
  for (let i = 0; i < vias.length; ) {
    const n = 1 + int(vias.length - i);
    lines.push(`${name('Via', 'v')}: ${vias.slice(i, i + n).join(', ')}`);
    i += n;
  }
  lines.push(`${name('From', 'f')}: ${nameAddr(true)}`);
  lines.push(`${name('To', 't')}:${fold('', nameAddr(!isRequest))}`);
  lines.push(`${name('Call-ID', 'i')}: ${word(`${ALNUM}-.!%*_+\`'~()<>:\\"/[]?{}`, 4, 20)}@${host()}`);
  lines.push(`CSeq: ${fold(String(int(2 ** 31)), method)}`);
  if (isRequest) lines.push(`Max-Forwards: ${int(256)}`);
  for (let i = int(3); i > 0; i--) lines.push(`${name('Contact', 'm')}: ${Array.from({ length: 1 + int(2) }, () => nameAddr(false)).join(', ')}`);
  if (chance(0.3)) lines.push(`${name('Subject', 's')}: ${fold(word(ALNUM, 1, 10), word(ALNUM, 1, 10))}`);
  if (chance(0.3)) lines.push(`X-${word(ALNUM, 1, 8)}: ${word(`${ALNUM} ;,=<>"`, 0, 30)}`);
  const body = chance(0.5) ? Buffer.from(Array.from({ length: int(400) }, () => int(256))) : Buffer.alloc(0);
  if (body.length) lines.push(`${name('Content-Type', 'c')}: application/${pick(['sdp', 'octet-stream', 'pidf+xml'])}`);
  if (chance(0.85)) lines.push(`${name('Content-Length', 'l')}: ${body.length}`);
  return Buffer.concat([Buffer.from(`${start}\r\n${lines.join('\r\n')}\r\n\r\n`, 'utf8'), body]);
}

const generated = Array.from({ length: 2000 }, generate);
const corpus = [...fixtures, ...generated];

// ------------------------------------------------------------------ mutations

function lineBounds(b: Buffer): number[] {
  const bounds = [0];
  for (let i = b.indexOf(0x0a); i >= 0; i = b.indexOf(0x0a, i + 1)) bounds.push(i + 1);
  if (bounds[bounds.length - 1] !== b.length) bounds.push(b.length);
  return bounds;
}

function randomLine(b: Buffer): [number, number] {
  const bounds = lineBounds(b);
  const i = int(Math.max(1, bounds.length - 1));
  return [bounds[i] ?? 0, bounds[i + 1] ?? b.length];
}

const INSERTS = [
  '\r', '\n', '\r\n', '\r\n\r\n', '\0', ' ', '\t', '\r\n ', '"', '\\', '<', '>', ';', ',', ':', '=', '%', '%00', '@', '[', ']', '?', '&',
  '99999999999999999999999999999999', '4294967296', '18446744073709551616', '-1', '0', '\xff\xfe', 'Content-Length: 7\r\n',
  'Via: SIP/2.0/UDP h\r\n', 'SIP/2.0', ' SIP/3.0', ';branch=z9hG4bK', ';;;;;;;;', ',,,,', '<<<<', '""""', 'l: 99999\r\n', 'CSeq: 1 BYE\r\n',
];

const MUTATIONS: ((b: Buffer) => Buffer)[] = [
  // delete a line
  (b) => {
    const [s, e] = randomLine(b);
    return Buffer.concat([b.subarray(0, s), b.subarray(e)]);
  },
  // duplicate a line
  (b) => {
    const [s, e] = randomLine(b);
    return Buffer.concat([b.subarray(0, e), b.subarray(s, e), b.subarray(e)]);
  },
  // swap two lines
  (b) => {
    const first = randomLine(b);
    const second = randomLine(b);
    const [[s1, e1], [s2, e2]] = first[0] <= second[0] ? [first, second] : [second, first];
    if (s2 < e1) return b;
    return Buffer.concat([b.subarray(0, s1), b.subarray(s2, e2), b.subarray(e1, s2), b.subarray(s1, e1), b.subarray(e2)]);
  },
  // flip a bit
  (b) => {
    if (b.length === 0) return b;
    const c = Buffer.from(b);
    const at = int(c.length);
    c[at] = c[at]! ^ (1 << int(8));
    return c;
  },
  // set a byte to anything
  (b) => {
    if (b.length === 0) return b;
    const c = Buffer.from(b);
    c[int(c.length)] = int(256);
    return c;
  },
  // cut short
  (b) => b.subarray(0, int(b.length + 1)),
  // insert something
  (b) => {
    const at = int(b.length + 1);
    return Buffer.concat([b.subarray(0, at), Buffer.from(pick(INSERTS), 'latin1'), b.subarray(at)]);
  },
  // replace a number by a huge or negative one
  (b) => {
    const text = b.toString('latin1');
    const numbers = [...text.matchAll(/\d+/g)];
    if (numbers.length === 0) return b;
    const m = pick(numbers);
    const n = pick(['99999999999999999999999999', '4294967296', '-1', '-0', '00000000000000000000001', '1e9', '0x10']);
    return Buffer.from(text.slice(0, m.index) + n + text.slice(m.index + m[0].length), 'latin1');
  },
  // repeat one byte many times in place — now and then up to the 64 kB a message may have, where
  // anything quadratic would show
  (b) => {
    if (b.length === 0) return b;
    const at = int(b.length);
    return Buffer.concat([b.subarray(0, at), Buffer.alloc(1 + int(chance(0.03) ? Math.max(1, 64_000 - b.length) : 4000), b[at]!), b.subarray(at)]);
  },
  // splice the start of one message onto the end of another
  (b) => {
    const other = pick(corpus);
    return Buffer.concat([b.subarray(0, int(b.length + 1)), other.subarray(int(other.length + 1))]);
  },
];

function mutate(base: Buffer): Buffer {
  let b = base;
  for (let n = int(6); n > 0; n--) b = pick(MUTATIONS)(b);
  return b;
}

// ------------------------------------------------------------------ run

type Outcome = 'parsed' | 'rejected' | 'crash';

function run(buf: Buffer): { outcome: Outcome; ms: number; error?: unknown } {
  const start = performance.now();
  try {
    serverTransactionPath(buf);
    return { outcome: 'parsed', ms: performance.now() - start };
  } catch (error) {
    const ms = performance.now() - start;
    return error instanceof SipParseError ? { outcome: 'rejected', ms } : { outcome: 'crash', ms, error };
  }
}

const counts = { parsed: 0, rejected: 0, crash: 0 };
let hangs = 0;
let maxMs = 0;
const REPORT = 5;
/** Above this a message is timed again (a few hundred in a million are). */
const RETIME_MS = 1;
const began = performance.now();
for (let i = 0; i < MESSAGES; i++) {
  const buf = mutate(pick(corpus));
  const result = run(buf);
  let ms = result.ms;
  if (ms > RETIME_MS) {
    // Timed again, twice: a message is only as slow as its fastest run — a GC pause or a JIT
    // compilation that happened to fall in it is not the parser's time.
    ms = Math.min(ms, run(buf).ms, run(buf).ms);
    if (ms > BUDGET_MS) {
      hangs++;
      if (hangs <= REPORT) log(`hang (${ms.toFixed(1)} ms): ${buf.toString('base64')}`);
    }
  }
  maxMs = Math.max(maxMs, ms);
  counts[result.outcome]++;
  if (result.outcome === 'crash' && counts.crash <= REPORT) {
    log(`crash: ${result.error instanceof Error ? result.error.stack : String(result.error)}\n  input: ${buf.toString('base64')}`);
  }
  if ((i + 1) % 200_000 === 0) log(`${i + 1} messages`);
  // Let the transactions' timers run (T1 = 1 ms), so finished transactions go as on a live server.
  if ((i + 1) % 1000 === 0) await new Promise((resolve) => setTimeout(resolve, 0));
}
const seconds = (performance.now() - began) / 1000;

console.log(
  JSON.stringify({
    messages: MESSAGES,
    parsed: counts.parsed,
    rejected: counts.rejected,
    crashes: counts.crash,
    hangs,
    max_ms: Number(maxMs.toFixed(3)),
    msgs_per_s: Math.round(MESSAGES / seconds),
  }),
);
const open = transactions.size;
transactions.close();
await transport.close();
log(`transactions still open at the end: ${open.servers} server, ${open.clients} client`);
if (counts.crash > 0 || hangs > 0) process.exitCode = 1;
