/**
 * Properties of the SIP parser over generated messages (fast-check):
 *   - a well-formed message parses to what was generated, and writing it out and reading it
 *     back changes nothing;
 *   - no mutation of a message — lines deleted, duplicated or swapped, bytes flipped, the message
 *     cut short, line ends, NULs or huge numbers put in — gets anything but a SipMessageError out
 *     of the parser, or takes it long;
 *   - the stream framer cuts a stream of messages back into exactly those messages, however the
 *     stream is chunked.
 * Runs are seeded, so a failure prints a seed and path that replay it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RFC4475_DIR } from '../../../test/support/rfc4475.ts';
import {
  parseMessage,
  quote,
  SipMessageError,
  SipParseError,
  SipStreamFramer,
  type AnySipMessage,
  type Frame,
  type NameAddr,
} from './index.ts';

const SEED = 4475;
/** Far above what any message here takes (microseconds), far below a hang; room for a GC pause. */
const BUDGET_MS = 250;

// ------------------------------------------------------------------ grammar pieces
// https://www.rfc-editor.org/rfc/rfc3261#section-25.1

const ALPHA = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGIT = '0123456789';
const chars = (s: string) => [...s];
const stringOf = (alphabet: string, minLength: number, maxLength: number) =>
  fc.string({ unit: fc.constantFrom(...chars(alphabet)), minLength, maxLength });

const token = stringOf(`${ALPHA}${DIGIT}-.!%*_+\`'~`, 1, 10);
const lowerToken = stringOf('abcdefghijklmnopqrstuvwxyz0123456789-.!%*_+`\'~', 1, 8);
const escaped = fc.integer({ min: 0, max: 255 }).map((n) => `%${n.toString(16).padStart(2, '0').toUpperCase()}`);
const unreserved = `${ALPHA}${DIGIT}-_.!~*'()`;
/** user = 1*( unreserved / escaped / user-unreserved ) */
const userPart = fc
  .array(fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...chars(`${unreserved}&=+$,;?/`)) }, { weight: 1, arbitrary: escaped }), {
    minLength: 1,
    maxLength: 10,
  })
  .map((a) => a.join(''));
/** paramchar = param-unreserved / unreserved / escaped, names in lower case (they are case-insensitive) */
const uriParamName = stringOf('abcdefghijklmnopqrstuvwxyz0123456789-_.!~*', 1, 8);
const uriParamValue = fc
  .array(fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...chars(`${unreserved}[]/:&+$`)) }, { weight: 1, arbitrary: escaped }), {
    minLength: 1,
    maxLength: 8,
  })
  .map((a) => a.join(''));
const hvalue = fc
  .array(fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...chars(`${unreserved}[]/?:+$`)) }, { weight: 1, arbitrary: escaped }), {
    maxLength: 8,
  })
  .map((a) => a.join(''));

const label = fc.tuple(fc.constantFrom(...chars(ALPHA)), stringOf(`${ALPHA}${DIGIT}-`, 0, 6), fc.constantFrom(...chars(`${ALPHA}${DIGIT}`)))
  .map(([a, mid, z]) => `${a}${mid}${z}`);
const hostname = fc.array(label, { minLength: 1, maxLength: 3 }).map((labels) => `${labels.join('.')}.example`);
const host = fc.oneof(hostname, fc.ipV4(), fc.ipV6().map((a) => `[${a}]`));
const port = fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined });

interface UriModel {
  text: string;
  /** Whether it may be written without <> (RFC 3261 §20: no ; ? or , in it). */
  bare: boolean;
}

const sipUri = (withHeaders: boolean) =>
  fc
    .record({
      scheme: fc.constantFrom('sip', 'sips'),
      user: fc.option(userPart, { nil: undefined }),
      password: fc.option(stringOf(`${unreserved}&=+$,`, 0, 6), { nil: undefined, freq: 8 }),
      host,
      port,
      params: fc.array(fc.tuple(uriParamName, fc.option(uriParamValue, { nil: null })), { maxLength: 3 }),
      headers: withHeaders
        ? fc.uniqueArray(fc.tuple(stringOf(`${ALPHA}-`, 1, 8), hvalue), { maxLength: 2, selector: ([name]) => name })
        : fc.constant<[string, string][]>([]),
    })
    .map(({ scheme, user, password, host, port, params, headers }): UriModel => {
      // one value per parameter name: a repeated one collapses into a map
      const unique = [...new Map(params).entries()];
      const text =
        `${scheme}:${user !== undefined ? `${user}${password !== undefined ? `:${password}` : ''}@` : ''}${host}` +
        `${port !== undefined ? `:${port}` : ''}${unique.map(([k, v]) => (v === null ? `;${k}` : `;${k}=${v}`)).join('')}` +
        `${headers.length ? `?${headers.map(([k, v]) => `${k}=${v}`).join('&')}` : ''}`;
      return { text, bare: !/[;?,]/.test(text) };
    });

/** Text a display name may hold: anything but CR and LF, `"` and `\` included (quote() escapes them). */
const displayText = fc.string({ unit: fc.oneof(fc.constantFrom(...chars('"\\\t\x00\x07\x7f ')), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 })), maxLength: 12 })
  .filter((s) => !/[\r\n]/.test(s));

interface NameAddrModel {
  uri: string;
  displayName: string | undefined;
  params: [string, string | null][];
  /** How it is written: the parts between which LWS (maybe folded) goes. */
  parts: string[];
}

const headerParam = fc.oneof(
  fc.tuple(lowerToken, token),
  fc.tuple(lowerToken, fc.constant(null)),
  fc.tuple(lowerToken, displayText.filter((s) => s !== '')).map(([k, v]): [string, string] => [k, v]),
);

const nameAddr = (tag: 'tag' | 'no tag' | 'any') =>
  fc
    .record({
      uri: sipUri(true),
      display: fc.oneof(
        fc.constant(undefined),
        fc.array(token, { minLength: 1, maxLength: 3 }).map((words) => ({ kind: 'tokens' as const, text: words.join(' ') })),
        displayText.map((text) => ({ kind: 'quoted' as const, text })),
      ),
      params: fc.array(headerParam, { maxLength: 2 }),
      tag: tag === 'tag' ? token : tag === 'no tag' ? fc.constant(undefined) : fc.option(token, { nil: undefined }),
      angle: fc.boolean(),
    })
    .map(({ uri, display, params, tag, angle }): NameAddrModel => {
      const all = new Map<string, string | null>(params.filter(([k]) => k !== 'tag'));
      if (tag !== undefined) all.set('tag', tag);
      const paramText = [...all].map(([k, v]) => (v === null ? `;${k}` : /^[A-Za-z0-9\-.!%*_+`'~]+$/.test(v) ? `;${k}=${v}` : `;${k}=${quote(v)}`)).join('');
      // addr-spec only when RFC 3261 §20 allows it: no display name, nothing in the URI that needs <>
      const bare = !angle && display === undefined && uri.bare;
      const parts: string[] = [];
      if (display !== undefined && display.text !== '') parts.push(display.kind === 'quoted' ? quote(display.text) : display.text);
      else if (display?.kind === 'quoted') parts.push('""');
      parts.push(bare ? `${uri.text}${paramText}` : `<${uri.text}>${paramText}`);
      // `""` is an empty display name, kept as such
      const displayName = display?.text;
      return { uri: uri.text, displayName, params: [...all], parts };
    });

interface ViaModel {
  transport: string;
  host: string;
  port: number | undefined;
  branch: string;
  text: string;
}

const via = fc
  .record({
    transport: fc.constantFrom('UDP', 'TCP', 'TLS', 'SCTP', 'WS', 'wss'),
    host,
    port,
    branch: token.map((t) => `z9hG4bK${t}`),
    rport: fc.boolean(),
    spaced: fc.boolean(),
  })
  .map(({ transport, host, port, branch, rport, spaced }): ViaModel => ({
    transport: transport.toUpperCase(),
    host,
    port,
    branch,
    text: `${spaced ? 'SIP / 2.0 / ' : 'SIP/2.0/'}${transport} ${host}${port !== undefined ? `:${port}` : ''};branch=${branch}${rport ? ';rport' : ''}`,
  }));

const METHODS = ['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER', 'SUBSCRIBE', 'NOTIFY', 'MESSAGE', 'INFO', 'X-CUSTOM'];

interface MessageModel {
  request: { method: string; uri: string } | undefined;
  status: { code: number; reason: string } | undefined;
  callId: string;
  cseq: { seq: number; method: string };
  vias: ViaModel[];
  from: NameAddrModel;
  to: NameAddrModel;
  contacts: NameAddrModel[];
  extension: [string, string] | undefined;
  body: Buffer;
  bytes: Buffer;
}

/** Header name: long, compact (RFC 3261 §7.3.3) or in another case — all the same header. */
const spelled = (long: string, compact?: string) =>
  fc.constantFrom(...[long, long.toLowerCase(), long.toUpperCase(), ...(compact ? [compact, compact.toUpperCase()] : [])]);
/** Between two parts of a value: SP, or a folded line (RFC 3261 §7.3.1), each read as one SP. */
const lws = fc.constantFrom(' ', ' ', ' ', '\r\n ', '\r\n\t', '\r\n  ');

/** A whole message, as bytes, and what it says. */
const sipMessage = fc
  .record({
    isRequest: fc.boolean(),
    method: fc.constantFrom(...METHODS),
    requestUri: sipUri(false),
    status: fc.integer({ min: 100, max: 699 }),
    reason: fc.string({ unit: fc.constantFrom(...chars(`${ALPHA} -'`), 'é', '大'), maxLength: 20 }),
    callId: fc.tuple(stringOf(`${ALPHA}${DIGIT}-.!%*_+\`'~()<>:\\"/[]?{}`, 1, 12), fc.option(hostname, { nil: undefined }))
      .map(([word, at]) => (at ? `${word}@${at}` : word)),
    seq: fc.nat({ max: 0xffffffff }),
    vias: fc.array(via, { minLength: 1, maxLength: 4 }),
    viaLines: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
    from: nameAddr('tag'),
    to: nameAddr('any'),
    contacts: fc.array(nameAddr('no tag'), { maxLength: 3 }),
    maxForwards: fc.option(fc.tuple(fc.integer({ min: 0, max: 255 }), fc.nat({ max: 3 })), { nil: undefined }),
    extension: fc.option(
      fc.tuple(stringOf(`${ALPHA}-`, 1, 10).map((n) => `X-${n}`), fc.string({ unit: 'grapheme', maxLength: 20 }).filter((v) => !/[\r\n]/.test(v))),
      { nil: undefined },
    ),
    body: fc.option(fc.uint8Array({ minLength: 1, maxLength: 300 }), { nil: undefined, freq: 2 }),
    lengthHeader: fc.constantFrom('Content-Length', 'l', 'content-length', 'none'),
    names: fc.record({
      via: spelled('Via', 'v'), from: spelled('From', 'f'), to: spelled('To', 't'), callId: spelled('Call-ID', 'i'),
      cseq: spelled('CSeq'), contact: spelled('Contact', 'm'), type: spelled('Content-Type', 'c'), mf: spelled('Max-Forwards'),
    }),
    seps: fc.array(lws, { minLength: 16, maxLength: 16 }),
    lf: fc.boolean(),
    order: fc.array(fc.nat(), { minLength: 10, maxLength: 10 }),
  })
  .map((g): MessageModel => {
    let sep = 0;
    const join = (parts: string[]) => parts.reduce((acc, part) => `${acc}${g.seps[sep++ % g.seps.length]!}${part}`);
    const lines: string[] = [];
    // Via values, several to a line where the generator says so
    let viaLine: string[] = [];
    g.vias.forEach((v, i) => {
      viaLine.push(v.text);
      if (i === g.vias.length - 1 || g.viaLines[i]) {
        lines.push(`${g.names.via}: ${viaLine.join(', ')}`);
        viaLine = [];
      }
    });
    const method = g.isRequest ? g.method : g.method === 'X-CUSTOM' ? 'INVITE' : g.method;
    lines.push(`${g.names.from}:${join(['', ...g.from.parts])}`);
    lines.push(`${g.names.to}: ${join(g.to.parts)}`);
    lines.push(`${g.names.callId}: ${g.callId}`);
    lines.push(`${g.names.cseq}: ${join([String(g.seq), method])}`);
    if (g.maxForwards && g.isRequest) lines.push(`${g.names.mf}: ${'0'.repeat(g.maxForwards[1])}${g.maxForwards[0]}`);
    if (g.contacts.length) lines.push(`${g.names.contact}: ${g.contacts.map((c) => c.parts.join(' ')).join(', ')}`);
    if (g.extension) lines.push(`${g.extension[0]}: ${g.extension[1]}`);
    const body = Buffer.from(g.body ?? []);
    if (body.length) lines.push(`${g.names.type}: application/octet-stream`);
    // The header lines in any order, but the Via lines keep theirs among themselves (RFC 3261
    // §7.3.1: rows of one name are in order; rows of different names in any order).
    const isVia = (l: string) => l.startsWith(`${g.names.via}:`);
    const ordered = lines
      .map((l, i) => ({ l, key: g.order[i % g.order.length]!, i }))
      .sort((a, b) => a.key - b.key || a.i - b.i)
      .map(({ l }) => l);
    const viaRows = lines.filter(isVia);
    ordered.forEach((l, i) => {
      if (isVia(l)) ordered[i] = viaRows.shift()!;
    });
    // the length, or none: over UDP the body is then the rest of the datagram (RFC 3261 §18.3)
    if (g.lengthHeader !== 'none') ordered.push(`${g.lengthHeader}: ${body.length}`);
    const startLine = g.isRequest ? `${method} ${g.requestUri.text} SIP/2.0` : `SIP/2.0 ${g.status} ${g.reason}`;
    let head = `${startLine}\r\n${ordered.join('\r\n')}\r\n\r\n`;
    if (g.lf) head = head.replaceAll('\r\n', '\n');
    return {
      request: g.isRequest ? { method, uri: g.requestUri.text } : undefined,
      status: g.isRequest ? undefined : { code: g.status, reason: g.reason },
      callId: g.callId,
      cseq: { seq: g.seq, method },
      vias: g.vias,
      from: g.from,
      to: g.to,
      contacts: g.contacts,
      extension: g.extension,
      body,
      bytes: Buffer.concat([Buffer.from(head, 'utf8'), body]),
    };
  });

// ------------------------------------------------------------------ helpers

/** What a parsed message says, structured — everything but the Content-Length `toBuffer` recomputes. */
function view(m: AnySipMessage) {
  const nameAddr = (a: NameAddr) => ({ uri: a.uri.toString(), displayName: a.displayName, params: [...a.params] });
  return {
    start: m.isRequest ? [m.method, m.uri.toString()] : [m.status, m.reason],
    headers: m.headers.filter((h) => h.name !== 'Content-Length'),
    body: m.body.toString('hex'),
    vias: m.vias.map((v) => [v.transport, v.host, v.port, [...v.params]]),
    from: nameAddr(m.from),
    to: nameAddr(m.to),
    cseq: m.cseq,
    callId: m.callId,
  };
}

/** parseMessage, timed: the message or the error, and how long it took. */
function timedParse(bytes: Buffer, options = {}): { result: AnySipMessage | unknown; ms: number } {
  const start = performance.now();
  let result: AnySipMessage | unknown;
  try {
    result = parseMessage(bytes, options);
  } catch (err) {
    result = err;
  }
  return { result, ms: performance.now() - start };
}

const ANSWERS = new Set([400, 501, 505, 513]);

function expectParsedOrRejected(bytes: Buffer): AnySipMessage | undefined {
  const { result, ms } = timedParse(bytes);
  expect(ms).toBeLessThan(BUDGET_MS);
  if (result instanceof Error) {
    expect(result).toBeInstanceOf(SipMessageError);
    expect(result).toBeInstanceOf(SipParseError);
    expect(ANSWERS.has((result as SipMessageError).status)).toBe(true);
    return undefined;
  }
  return result as AnySipMessage;
}

const FIXTURES = readdirSync(RFC4475_DIR)
  .filter((f) => f.endsWith('.dat'))
  .sort()
  .map((f) => readFileSync(path.join(RFC4475_DIR, f)));

// ------------------------------------------------------------------ well-formed messages

describe('well-formed messages', () => {
  it('parse to what was generated', () => {
    fc.assert(
      fc.property(sipMessage, (model) => {
        const m = parseMessage(model.bytes);
        if (model.request) {
          expect(m.isRequest && [m.method, m.uri.toString()]).toEqual([model.request.method, model.request.uri]);
        } else {
          expect(!m.isRequest && [m.status, m.reason]).toEqual([model.status!.code, model.status!.reason]);
        }
        expect(m.callId).toBe(model.callId);
        expect(m.cseq).toEqual(model.cseq);
        expect(m.vias.map((v) => [v.transport, v.host, v.port, v.branch])).toEqual(model.vias.map((v) => [v.transport, v.host, v.port, v.branch]));
        for (const [parsed, expected] of [[m.from, model.from], [m.to, model.to]] as const) {
          expect(parsed.uri.toString()).toBe(expected.uri);
          expect(parsed.displayName).toBe(expected.displayName);
          expect([...parsed.params]).toEqual(expected.params);
        }
        expect(m.headerValues('Contact').length).toBe(model.contacts.length);
        if (model.contacts.length && m.contacts !== '*') {
          expect(m.contacts.map((c) => [c.uri.toString(), c.displayName])).toEqual(model.contacts.map((c) => [c.uri, c.displayName]));
        }
        if (model.extension) expect(m.header(model.extension[0])).toBe(model.extension[1].replace(/^[ \t]+|[ \t]+$/g, ''));
        expect(m.body.equals(model.body)).toBe(true);
      }),
      { seed: SEED, numRuns: 400 },
    );
  });

  it('write out and read back to the same values', () => {
    fc.assert(
      fc.property(sipMessage, (model) => {
        const first = parseMessage(model.bytes);
        const again = parseMessage(first.toBuffer());
        expect(view(again)).toEqual(view(first));
        // and writing is stable from then on
        expect(again.toBuffer().equals(first.toBuffer())).toBe(true);
      }),
      { seed: SEED, numRuns: 400 },
    );
  });

  it('parse the same over a stream once written with their Content-Length', () => {
    fc.assert(
      fc.property(sipMessage, (model) => {
        const bytes = parseMessage(model.bytes).toBuffer();
        expect(view(parseMessage(bytes, { stream: true }))).toEqual(view(parseMessage(model.bytes)));
      }),
      { seed: SEED, numRuns: 200 },
    );
  });
});

// ------------------------------------------------------------------ mutations

type Mutation = (b: Buffer) => Buffer;

const lineBounds = (b: Buffer): number[] => {
  const bounds = [0];
  for (let i = b.indexOf(0x0a); i >= 0; i = b.indexOf(0x0a, i + 1)) bounds.push(i + 1);
  if (bounds[bounds.length - 1] !== b.length) bounds.push(b.length);
  return bounds;
};
/** The `k`-th line (with its line end), taken modulo the number of lines. */
const lineAt = (b: Buffer, k: number): [number, number] => {
  const bounds = lineBounds(b);
  const i = k % Math.max(1, bounds.length - 1);
  return [bounds[i] ?? 0, bounds[i + 1] ?? b.length];
};

const INSERTS = [
  '\r', '\n', '\r\n', '\r\n\r\n', '\0', ' ', '\t', '\r\n ', '"', '\\', '<', '>', ';', ',', ':', '=', '%', '%00', '@', '[', ']',
  '99999999999999999999999999999999', '4294967296', '-1', '0', '\xff\xfe', '\u202e', 'Content-Length: 7\r\n', 'Via: SIP/2.0/UDP h\r\n',
  'SIP/2.0', '\r\nContent-Length: -5', ';branch=z9hG4bK', ';;;;;;;;', ',,,,', '<<<<', '""""',
];

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.nat().map((k): Mutation => (b) => {
    const [s, e] = lineAt(b, k);
    return Buffer.concat([b.subarray(0, s), b.subarray(e)]);
  }),
  fc.nat().map((k): Mutation => (b) => {
    const [s, e] = lineAt(b, k);
    return Buffer.concat([b.subarray(0, e), b.subarray(s, e), b.subarray(e)]);
  }),
  fc.tuple(fc.nat(), fc.nat()).map(([j, k]): Mutation => (b) => {
    const [s1, e1] = lineAt(b, Math.min(j, k));
    const [s2, e2] = lineAt(b, Math.max(j, k));
    if (s2 < e1) return b;
    return Buffer.concat([b.subarray(0, s1), b.subarray(s2, e2), b.subarray(e1, s2), b.subarray(s1, e1), b.subarray(e2)]);
  }),
  fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })).map(([k, bit]): Mutation => (b) => {
    if (b.length === 0) return b;
    const c = Buffer.from(b);
    c[k % c.length]! ^= 1 << bit;
    return c;
  }),
  fc.nat().map((k): Mutation => (b) => b.subarray(0, k % (b.length + 1))),
  fc.tuple(fc.nat(), fc.constantFrom(...INSERTS)).map(([k, s]): Mutation => (b) => {
    const at = k % (b.length + 1);
    return Buffer.concat([b.subarray(0, at), Buffer.from(s, 'latin1'), b.subarray(at)]);
  }),
  fc.tuple(fc.nat(), fc.constantFrom('99999999999999999999999999', '18446744073709551616', '-0', '00000000000000000000001')).map(([k, n]): Mutation => (b) => {
    // a number in the message replaced by a huge (or negative) one
    const text = b.toString('latin1');
    const numbers = [...text.matchAll(/\d+/g)];
    const m = numbers[k % Math.max(1, numbers.length)];
    if (!m) return b;
    return Buffer.from(text.slice(0, m.index) + n + text.slice(m.index + m[0].length), 'latin1');
  }),
  fc.tuple(fc.nat(), fc.nat({ max: 2000 })).map(([k, n]): Mutation => (b) => {
    // one byte of the message repeated many times in place
    if (b.length === 0) return b;
    const at = k % b.length;
    return Buffer.concat([b.subarray(0, at), Buffer.alloc(n, b[at]!), b.subarray(at)]);
  }),
);

const baseMessage = fc.oneof(sipMessage.map((m) => m.bytes), fc.constantFrom(...FIXTURES));

describe('mutated messages', () => {
  it('get only SipMessageError out of the parser, quickly; what parses writes out and reads back the same', () => {
    fc.assert(
      fc.property(baseMessage, fc.array(mutation, { minLength: 1, maxLength: 6 }), (base, mutations) => {
        const bytes = mutations.reduce((b, mutate) => mutate(b), base);
        const m = expectParsedOrRejected(bytes);
        if (m) expect(view(parseMessage(m.toBuffer()))).toEqual(view(m));
      }),
      { seed: SEED, numRuns: 3000 },
    );
  });

  it('are as safe on a stream, and through the framer', () => {
    fc.assert(
      fc.property(baseMessage, fc.array(mutation, { minLength: 1, maxLength: 4 }), (base, mutations) => {
        const bytes = mutations.reduce((b, mutate) => mutate(b), base);
        const { result, ms } = timedParse(bytes, { stream: true });
        expect(ms).toBeLessThan(BUDGET_MS);
        if (result instanceof Error) expect(result).toBeInstanceOf(SipMessageError);
        const frames = new SipStreamFramer().push(bytes);
        for (const f of frames) if (f.kind === 'message') expectParsedOrRejected(f.bytes);
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it.each([
    ['a Request-URI', (x: string) => `OPTIONS sip:${x}@example.com SIP/2.0`],
    ['a Via', (x: string) => `Via: SIP/2.0/UDP ${x}`],
    ['a display name', (x: string) => `From: "${x} <sip:a@example.com>;tag=1`],
    ['name-addr parameters', (x: string) => `Contact: <sip:a@example.com>;${x}`],
    ['a URI in brackets', (x: string) => `Contact: <sip:${x}>`],
    ['a Call-ID', (x: string) => `Call-ID: ${x}`],
    ['a CSeq', (x: string) => `CSeq: ${x} OPTIONS`],
    ['a Content-Length', (x: string) => `Content-Length: ${x}`],
    ['a header name', (x: string) => `${x}: value`],
    ['a header line before its colon', (x: string) => `Bad ${x}x: value`],
    ['a host', (x: string) => `Contact: <sip:a@${x}>`],
    ['folded lines', (x: string) => `Subject: a${x.replace(/./g, '\r\n ')}`],
  ])('take no longer with 60 kB of one character in %s', (_where, line) => {
    const head = ['Via: SIP/2.0/UDP h.example.com;branch=z9hG4bK1', 'To: <sip:b@example.com>', 'From: <sip:a@example.com>;tag=1', 'Call-ID: x', 'CSeq: 1 OPTIONS'];
    const fillers = ['a', ';', '"', '<', '%', ' ', '\\', ':', '[', '@', '.', '-', '0', '=', ',', '\t', 'a.', 'a-', ' ;', ';a', '%4', '\\"', ' \t'];
    for (const c of fillers) {
      const filler = c.repeat(20_000 / c.length);
      for (const text of [line(filler), `OPTIONS sip:b@example.com SIP/2.0\r\n${line(filler)}`]) {
        const bytes = Buffer.from(`OPTIONS sip:b@example.com SIP/2.0\r\n${head.join('\r\n')}\r\n${text}\r\n\r\n`, 'latin1');
        expectParsedOrRejected(bytes);
        expectParsedOrRejected(Buffer.from(`${text}\r\n${head.join('\r\n')}\r\n\r\n`, 'latin1'));
      }
    }
  });
});

// ------------------------------------------------------------------ the stream framer

/** A stream of messages (each written out with its Content-Length), with CRLFCRLF pings between some. */
const stream = fc
  .array(fc.tuple(sipMessage, fc.nat({ max: 2 })), { minLength: 1, maxLength: 5 })
  .map((items) => {
    const messages = items.map(([m]) => parseMessage(m.bytes).toBuffer());
    const pings = items.reduce((n, [, p]) => n + p, 0);
    const bytes = Buffer.concat(items.flatMap(([, p], i) => [Buffer.from('\r\n\r\n'.repeat(p)), messages[i]!]));
    return { messages, pings, bytes };
  });

/** Cuts at sorted offsets into consecutive chunks. */
const chunked = (bytes: Buffer, cuts: number[]): Buffer[] => {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const p of [...points, bytes.length]) {
    chunks.push(bytes.subarray(from, p));
    from = p;
  }
  return chunks;
};

describe('SipStreamFramer', () => {
  it('gives back exactly the messages and the pings of a stream, however it is chunked', () => {
    fc.assert(
      fc.property(stream, fc.array(fc.nat(), { maxLength: 40 }), ({ messages, pings, bytes }, cuts) => {
        const framer = new SipStreamFramer();
        const frames: Frame[] = chunked(bytes, cuts).flatMap((c) => framer.push(c));
        expect(frames.filter((f) => f.kind === 'error')).toEqual([]);
        expect(frames.filter((f) => f.kind === 'ping')).toHaveLength(pings);
        const out = frames.flatMap((f) => (f.kind === 'message' ? [f.bytes] : []));
        expect(out.map((b) => b.toString('latin1'))).toEqual(messages.map((b) => b.toString('latin1')));
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('reads one byte at a time as it reads the whole', () => {
    fc.assert(
      fc.property(stream, ({ messages, bytes }) => {
        const framer = new SipStreamFramer();
        const out: Buffer[] = [];
        for (let i = 0; i < bytes.length; i++) {
          for (const f of framer.push(bytes.subarray(i, i + 1))) if (f.kind === 'message') out.push(f.bytes);
        }
        expect(out).toEqual(messages);
      }),
      { seed: SEED, numRuns: 30 },
    );
  });

  it('ends with an error frame at a message over the size cap, after the messages before it', () => {
    fc.assert(
      fc.property(stream, fc.integer({ min: 1, max: 5000 }), fc.array(fc.nat(), { maxLength: 10 }), ({ messages, bytes }, extra, cuts) => {
        const maxBytes = Math.max(...messages.map((m) => m.length)) + 10;
        const length = maxBytes + extra;
        const oversize = Buffer.from(`MESSAGE sip:a@example.com SIP/2.0\r\nContent-Length: ${length}\r\n\r\n${'x'.repeat(length)}`);
        const framer = new SipStreamFramer(maxBytes);
        const frames = chunked(Buffer.concat([bytes, oversize, bytes]), cuts).flatMap((c) => framer.push(c));
        // every push after the error repeats it: the stream cannot be read any further
        const kinds = frames.filter((f) => f.kind !== 'ping').map((f) => f.kind).filter((k, i, all) => k !== 'error' || all[i - 1] !== 'error');
        expect(kinds).toEqual([...messages.map(() => 'message'), 'error']);
      }),
      { seed: SEED, numRuns: 100 },
    );
  });

  it('closes on a header section that never ends, and on unframeable lengths', () => {
    const framer = new SipStreamFramer(1000);
    expect(framer.push(Buffer.from(`OPTIONS sip:a@b SIP/2.0\r\nX: ${'y'.repeat(2000)}`))).toEqual([{ kind: 'error', reason: 'header section too large' }]);
    expect(framer.push(Buffer.from('more'))[0]!.kind).toBe('error');
    for (const length of ['-1', 'five', '1, 1', '99999999999999999999']) {
      const frames = new SipStreamFramer().push(Buffer.from(`OPTIONS sip:a@b SIP/2.0\r\nl: ${length}\r\n\r\n`));
      expect(frames.map((f) => f.kind)).toEqual(['error']);
    }
    // a folded Content-Length still frames
    const folded = new SipStreamFramer().push(Buffer.from('OPTIONS sip:a@b SIP/2.0\r\nContent-Length:\r\n 2\r\n\r\nhiOPTIONS'));
    expect(folded.map((f) => (f.kind === 'message' ? f.bytes.toString() : f.kind))).toEqual(['OPTIONS sip:a@b SIP/2.0\r\nContent-Length:\r\n 2\r\n\r\nhi']);
  });

  it('never throws on random bytes, and only ever gives messages, pings or one final error', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }), (chunks) => {
        const framer = new SipStreamFramer(2000);
        const frames = chunks.flatMap((c) => framer.push(Buffer.from(c)));
        const errors = frames.filter((f) => f.kind === 'error');
        expect(errors.length).toBeLessThanOrEqual(chunks.length);
        const firstError = frames.findIndex((f) => f.kind === 'error');
        if (firstError >= 0) expect(frames.slice(firstError).every((f) => f.kind === 'error')).toBe(true);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });
});
