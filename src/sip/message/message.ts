/**
 * SIP requests and responses: a start line, an ordered list of headers (canonical names, values
 * as received), and a body. Structured views of the headers the stack uses (Via, From, To, CSeq,
 * Contact …) are parsed on first use and cached until that header is changed.
 */
import { randomBytes } from 'node:crypto';
import { SipParseError, splitTopLevel, trimLws } from './grammar.ts';
import {
  canonicalHeaderName,
  isListHeader,
  NameAddr,
  parseCSeq,
  parseInteger,
  parseNameAddr,
  parseVia,
  Via,
  type CSeq,
} from './headers.ts';
import type { Uri } from './uri.ts';

export interface Header {
  name: string;
  value: string;
}

export const SIP_VERSION = 'SIP/2.0';

/** Reason phrases of the responses Ringside sends (RFC 3261 §21 and extensions). */
export const REASON_PHRASES: Record<number, string> = {
  100: 'Trying', 180: 'Ringing', 181: 'Call Is Being Forwarded', 182: 'Queued', 183: 'Session Progress',
  200: 'OK', 202: 'Accepted', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found',
  405: 'Method Not Allowed', 406: 'Not Acceptable', 407: 'Proxy Authentication Required', 408: 'Request Timeout',
  410: 'Gone', 413: 'Request Entity Too Large', 414: 'Request-URI Too Long', 415: 'Unsupported Media Type',
  416: 'Unsupported URI Scheme', 420: 'Bad Extension', 421: 'Extension Required', 423: 'Interval Too Brief',
  480: 'Temporarily Unavailable', 481: 'Call/Transaction Does Not Exist', 482: 'Loop Detected', 483: 'Too Many Hops',
  484: 'Address Incomplete', 485: 'Ambiguous', 486: 'Busy Here', 487: 'Request Terminated', 488: 'Not Acceptable Here',
  491: 'Request Pending', 500: 'Server Internal Error', 501: 'Not Implemented', 502: 'Bad Gateway',
  503: 'Service Unavailable', 504: 'Server Time-out', 505: 'Version Not Supported', 513: 'Message Too Large',
  600: 'Busy Everywhere', 603: 'Decline', 604: 'Does Not Exist Anywhere', 606: 'Not Acceptable',
};

export abstract class SipMessage {
  headers: Header[];
  body: Buffer;
  private cache = new Map<string, unknown>();

  constructor(headers: Header[] = [], body: Buffer = Buffer.alloc(0)) {
    this.headers = headers;
    this.body = body;
  }

  abstract get isRequest(): boolean;
  abstract startLine(): string;

  // ---------------------------------------------------------------- raw headers

  /** The first value of a header (for list headers, the first element), or undefined. */
  header(name: string): string | undefined {
    const canonical = canonicalHeaderName(name);
    for (const h of this.headers) {
      if (h.name === canonical) return isListHeader(canonical) ? splitTopLevel(h.value)[0] : h.value;
    }
    return undefined;
  }

  /** Every value of a header, across lines; list headers are split at their commas. */
  headerValues(name: string): string[] {
    const canonical = canonicalHeaderName(name);
    const out: string[] = [];
    const list = isListHeader(canonical);
    for (const h of this.headers) {
      if (h.name !== canonical) continue;
      if (list) out.push(...splitTopLevel(h.value).filter((v) => v !== ''));
      else out.push(h.value);
    }
    return out;
  }

  hasHeader(name: string): boolean {
    const canonical = canonicalHeaderName(name);
    return this.headers.some((h) => h.name === canonical);
  }

  /** Replaces every line of the header with one line per value (none removes it). */
  setHeader(name: string, ...values: (string | { toString(): string })[]): this {
    const canonical = canonicalHeaderName(name);
    const headers = this.headers;
    let index = -1;
    let count = 0;
    for (let i = 0; i < headers.length; i++) {
      if (headers[i]!.name !== canonical) continue;
      if (index < 0) index = i;
      count++;
    }
    this.cache.delete(canonical);
    // The common cases without copying the list: a new header, or one line replaced by one.
    if (count === 0) {
      for (const v of values) headers.push({ name: canonical, value: String(v) });
      return this;
    }
    if (count === 1 && values.length === 1) {
      headers[index] = { name: canonical, value: String(values[0]) };
      return this;
    }
    this.headers = headers.filter((h) => h.name !== canonical);
    this.headers.splice(index, 0, ...values.map((v) => ({ name: canonical, value: String(v) })));
    return this;
  }

  addHeader(name: string, value: string | { toString(): string }): this {
    const canonical = canonicalHeaderName(name);
    this.headers.push({ name: canonical, value: String(value) });
    this.cache.delete(canonical);
    return this;
  }

  /** Puts a value first (a new top Via, a Record-Route …). */
  prependHeader(name: string, value: string | { toString(): string }): this {
    const canonical = canonicalHeaderName(name);
    const index = this.headers.findIndex((h) => h.name === canonical);
    this.headers.splice(index >= 0 ? index : 0, 0, { name: canonical, value: String(value) });
    this.cache.delete(canonical);
    return this;
  }

  removeHeader(name: string): this {
    return this.setHeader(name);
  }

  private cached<T>(name: string, parse: () => T): T {
    if (this.cache.has(name)) return this.cache.get(name) as T;
    const value = parse();
    this.cache.set(name, value);
    return value;
  }

  // ---------------------------------------------------------------- structured headers

  get vias(): Via[] {
    return this.cached('Via', () => this.headerValues('Via').map(parseVia));
  }

  /**
   * Rewrites the top Via after changing it (received/rport stamping): only its own text changes;
   * the other Vias keep their bytes and the parsed list stays cached.
   */
  updateTopVia(via: Via): void {
    const index = this.headers.findIndex((h) => h.name === 'Via');
    if (index < 0) return;
    const line = this.headers[index]!;
    const values = splitTopLevel(line.value);
    values[0] = via.toString();
    line.value = values.join(', ');
  }

  get topVia(): Via {
    const via = this.vias[0];
    if (!via) throw new SipParseError('missing Via');
    return via;
  }

  get callId(): string {
    const v = this.header('Call-ID');
    if (!v) throw new SipParseError('missing Call-ID');
    return v;
  }

  get cseq(): CSeq {
    return this.cached('CSeq', () => {
      const v = this.header('CSeq');
      if (v === undefined) throw new SipParseError('missing CSeq');
      return parseCSeq(v);
    });
  }

  get from(): NameAddr {
    return this.cached('From', () => {
      const v = this.header('From');
      if (v === undefined) throw new SipParseError('missing From');
      return parseNameAddr(v);
    });
  }

  get to(): NameAddr {
    return this.cached('To', () => {
      const v = this.header('To');
      if (v === undefined) throw new SipParseError('missing To');
      return parseNameAddr(v);
    });
  }

  /** Contact addresses; `'*'` for the REGISTER wildcard. */
  get contacts(): NameAddr[] | '*' {
    return this.cached('Contact', () => {
      const values = this.headerValues('Contact');
      if (values.length === 1 && values[0] === '*') return '*' as const;
      return values.map(parseNameAddr);
    });
  }

  get routes(): NameAddr[] {
    return this.cached('Route', () => this.headerValues('Route').map(parseNameAddr));
  }

  get recordRoutes(): NameAddr[] {
    return this.cached('Record-Route', () => this.headerValues('Record-Route').map(parseNameAddr));
  }

  get contentLength(): number {
    return this.body.length;
  }

  get contentType(): string | undefined {
    const type = this.header('Content-Type')?.split(';')[0];
    return type === undefined ? undefined : trimLws(type).toLowerCase();
  }

  integerHeader(name: string): number | undefined {
    const v = this.header(name);
    return v === undefined ? undefined : parseInteger(name, v);
  }

  // ---------------------------------------------------------------- wire

  /** Serialises with a Content-Length that always matches the body. */
  toBuffer(): Buffer {
    let head = `${this.startLine()}\r\n`;
    for (const h of this.headers) {
      if (h.name === 'Content-Length') continue;
      head += `${h.name}: ${h.value}\r\n`;
    }
    head += `Content-Length: ${this.body.length}\r\n\r\n`;
    const headBuf = Buffer.from(head, 'utf8');
    return this.body.length === 0 ? headBuf : Buffer.concat([headBuf, this.body]);
  }

  toString(): string {
    return this.toBuffer().toString('utf8');
  }
}

export class SipRequest extends SipMessage {
  constructor(
    public method: string,
    public uri: Uri,
    headers: Header[] = [],
    body?: Buffer,
  ) {
    super(headers, body);
  }

  get isRequest(): true {
    return true;
  }

  get maxForwards(): number | undefined {
    return this.integerHeader('Max-Forwards');
  }

  startLine(): string {
    return `${this.method} ${this.uri.toString()} ${SIP_VERSION}`;
  }
}

export class SipResponse extends SipMessage {
  constructor(
    public status: number,
    public reason: string = REASON_PHRASES[status] ?? 'Unknown',
    headers: Header[] = [],
    body?: Buffer,
  ) {
    super(headers, body);
  }

  get isRequest(): false {
    return false;
  }

  startLine(): string {
    return `${SIP_VERSION} ${this.status} ${this.reason}`;
  }
}

export type AnySipMessage = SipRequest | SipResponse;

/** Random bytes drawn a few kilobytes at a time: one `randomBytes` call per tag costs more than the tag. */
let pool = Buffer.alloc(0);
let poolOffset = 0;

/** A random token for tags and branches (RFC 3261 wants at least 32 bits of randomness). */
export function randomToken(bytes = 8): string {
  if (poolOffset + bytes > pool.length) {
    pool = randomBytes(4096);
    poolOffset = 0;
  }
  const token = pool.toString('hex', poolOffset, poolOffset + bytes);
  poolOffset += bytes;
  return token;
}

export function newBranch(): string {
  return `z9hG4bK${randomToken(10)}`;
}

/**
 * A response to `request` as RFC 3261 §8.2.6.2 says: Via, From, To, Call-ID and CSeq copied;
 * a To tag added (except on 100) when the request had none.
 */
export function createResponse(request: SipRequest, status: number, options: { reason?: string; toTag?: string } = {}): SipResponse {
  const response = new SipResponse(status, options.reason ?? REASON_PHRASES[status] ?? 'Unknown');
  for (const h of request.headers) {
    if (h.name === 'Via' || h.name === 'From' || h.name === 'To' || h.name === 'Call-ID' || h.name === 'CSeq') {
      response.headers.push({ name: h.name, value: h.value });
    }
  }
  if (status > 100) {
    const to = request.to;
    if (!to.tag) {
      const withTag = to.clone();
      withTag.tag = options.toTag ?? randomToken();
      response.setHeader('To', withTag.toString());
    }
  }
  return response;
}
