/**
 * Header names (canonical forms, compact forms, which ones are comma lists) and the structured
 * headers the stack reads: name-addr (From, To, Contact, Route …), Via, CSeq.
 */
import { formatParams, parseParams, quote, readQuoted, SipParseError, trimLws, type Params } from './grammar.ts';
import { parseUri, type Uri } from './uri.ts';

// https://www.rfc-editor.org/rfc/rfc3261#section-7.3.3 and the IANA registry.
const COMPACT: Record<string, string> = {
  i: 'Call-ID', m: 'Contact', e: 'Content-Encoding', l: 'Content-Length', c: 'Content-Type', f: 'From',
  s: 'Subject', k: 'Supported', t: 'To', v: 'Via', o: 'Event', r: 'Refer-To', b: 'Referred-By',
  u: 'Allow-Events', x: 'Session-Expires', y: 'Identity', a: 'Accept-Contact', j: 'Reject-Contact',
  d: 'Request-Disposition', n: 'Identity-Info',
};

const CANONICAL = new Map<string, string>(
  [
    'Accept', 'Accept-Encoding', 'Accept-Language', 'Alert-Info', 'Allow', 'Allow-Events', 'Authentication-Info', 'Authorization',
    'Call-ID', 'Call-Info', 'Contact', 'Content-Disposition', 'Content-Encoding', 'Content-Language', 'Content-Length',
    'Content-Type', 'CSeq', 'Date', 'Error-Info', 'Event', 'Expires', 'From', 'In-Reply-To', 'Max-Forwards', 'Min-Expires',
    'MIME-Version', 'Min-SE', 'Organization', 'P-Asserted-Identity', 'Path', 'Priority', 'Proxy-Authenticate',
    'Proxy-Authorization', 'Proxy-Require', 'Reason', 'Record-Route', 'Refer-To', 'Referred-By', 'Reply-To', 'Require',
    'Retry-After', 'Route', 'Server', 'Service-Route', 'Session-Expires', 'Subject', 'Subscription-State', 'Supported',
    'Timestamp', 'To', 'Unsupported', 'User-Agent', 'Via', 'Warning', 'WWW-Authenticate', 'RSeq', 'RAck', 'Flow-Timer',
  ].map((n) => [n.toLowerCase(), n]),
);

/** Headers whose grammar is a comma-separated list, so several values may share one line. */
const LIST_HEADERS = new Set(
  [
    'Accept', 'Accept-Encoding', 'Accept-Language', 'Alert-Info', 'Allow', 'Allow-Events', 'Call-Info', 'Contact',
    'Content-Encoding', 'Content-Language', 'Error-Info', 'In-Reply-To', 'Path', 'Proxy-Require', 'Reason', 'Record-Route',
    'Require', 'Route', 'Service-Route', 'Supported', 'Unsupported', 'Via', 'Warning',
  ].map((n) => n.toLowerCase()),
);

/** `v` → `Via`, `cAlL-iD` → `Call-ID`, unknown names keep their spelling. */
export function canonicalHeaderName(name: string): string {
  const lower = name.toLowerCase();
  if (lower.length === 1 && COMPACT[lower]) return COMPACT[lower]!;
  return CANONICAL.get(lower) ?? name;
}

export function isListHeader(canonicalName: string): boolean {
  return LIST_HEADERS.has(canonicalName.toLowerCase());
}

// ------------------------------------------------------------------ name-addr

/** `"Alice" <sip:alice@example.com>;tag=1` — From, To, Contact, Route, Record-Route, Refer-To … */
export class NameAddr {
  constructor(
    public uri: Uri,
    public displayName: string | undefined = undefined,
    public params: Params = new Map(),
  ) {}

  get tag(): string | undefined {
    return this.params.get('tag') ?? undefined;
  }

  set tag(value: string | undefined) {
    if (value === undefined) this.params.delete('tag');
    else this.params.set('tag', value);
  }

  clone(): NameAddr {
    return new NameAddr(this.uri.isSip ? this.uri.clone() : this.uri, this.displayName, new Map(this.params));
  }

  toString(): string {
    const name = this.displayName ? `${quote(this.displayName)} ` : '';
    return `${name}<${this.uri.toString()}>${formatParams(this.params)}`;
  }
}

export function parseNameAddr(value: string): NameAddr {
  const v = trimLws(value);
  let i = 0;
  let displayName: string | undefined;
  if (v.startsWith('"')) {
    const q = readQuoted(v, 0);
    displayName = q.text;
    i = q.end;
    while (v[i] === ' ' || v[i] === '\t') i++;
    if (v[i] !== '<') throw new SipParseError(`expected <URI> after display name in ${JSON.stringify(value)}`);
  }
  const lt = v.indexOf('<', i);
  if (lt >= 0 && (displayName !== undefined || !v.slice(0, lt).includes(';'))) {
    if (displayName === undefined) {
      const name = trimLws(v.slice(0, lt));
      // display-name = *(token LWS) / quoted-string
      if (name !== '' && !/^[A-Za-z0-9\-.!%*_+`'~]+(?:[ \t]+[A-Za-z0-9\-.!%*_+`'~]+)*$/.test(name)) {
        throw new SipParseError(`invalid display name in ${JSON.stringify(value)}`);
      }
      displayName = name === '' ? undefined : name;
    }
    const gt = v.indexOf('>', lt);
    if (gt < 0) throw new SipParseError(`unterminated <URI> in ${JSON.stringify(value)}`);
    const uri = parseUri(v.slice(lt + 1, gt));
    return new NameAddr(uri, displayName, parseParams(v.slice(gt + 1)));
  }
  // addr-spec: the URI cannot carry ; params here — what follows the first ; after the host is header params.
  if (/[<>]/.test(v)) throw new SipParseError(`invalid address ${JSON.stringify(value)}`);
  const at = v.indexOf('@');
  const semi = v.indexOf(';', at >= 0 ? at : v.indexOf(':'));
  const uriText = semi >= 0 ? v.slice(0, semi) : v;
  if (/\s/.test(trimLws(uriText))) throw new SipParseError(`invalid address ${JSON.stringify(value)}`);
  // "If the URI contains a comma, question mark or semicolon, the URI MUST be enclosed in angle
  // brackets": an addr-spec cannot carry URI headers (RFC 4475 §3.1.2.13 "regbadct").
  // https://www.rfc-editor.org/rfc/rfc3261#section-20
  if (/[?,]/.test(uriText)) throw new SipParseError(`a URI with headers or commas must be in <>: ${JSON.stringify(value)}`);
  return new NameAddr(parseUri(trimLws(uriText)), undefined, semi >= 0 ? parseParams(v.slice(semi)) : new Map());
}

// ------------------------------------------------------------------ Via

export class Via {
  constructor(
    public transport: string,
    public host: string,
    public port: number | undefined,
    public params: Params = new Map(),
  ) {}

  get branch(): string | undefined {
    return this.params.get('branch') ?? undefined;
  }

  /** RFC 3261 branches start with the magic cookie; older ones need the RFC 2543 matching rules. */
  get isRfc3261Branch(): boolean {
    return this.branch?.startsWith('z9hG4bK') ?? false;
  }

  get sentBy(): string {
    return this.port === undefined ? this.host.toLowerCase() : `${this.host.toLowerCase()}:${this.port}`;
  }

  clone(): Via {
    return new Via(this.transport, this.host, this.port, new Map(this.params));
  }

  toString(): string {
    return `SIP/2.0/${this.transport} ${this.host}${this.port !== undefined ? `:${this.port}` : ''}${formatParams(this.params)}`;
  }
}

const VIA = /^SIP[ \t]*\/[ \t]*2\.0[ \t]*\/[ \t]*([A-Za-z0-9\-.!%*_+`'~]+)[ \t]+(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-.]+)(?:[ \t]*:[ \t]*(\d{1,5}))?[ \t]*(;.*)?$/i;

export function parseVia(value: string): Via {
  const m = VIA.exec(trimLws(value));
  if (!m) throw new SipParseError(`invalid Via: ${JSON.stringify(value)}`);
  const port = m[3] === undefined ? undefined : Number(m[3]);
  if (port !== undefined && (port === 0 || port > 65535)) throw new SipParseError(`invalid Via port: ${JSON.stringify(value)}`);
  const params = m[4] ? parseParams(m[4]) : new Map<string, string | null>();
  const branch = params.get('branch');
  if (branch === null || branch === '') throw new SipParseError('Via branch without a value');
  return new Via(m[1]!.toUpperCase(), m[2]!, port, params);
}

// ------------------------------------------------------------------ CSeq

export interface CSeq {
  seq: number;
  method: string;
}

export function parseCSeq(value: string): CSeq {
  // CSeq = "CSeq" HCOLON 1*DIGIT LWS Method: leading zeros are allowed ("0009" in RFC 4475 §3.1.1.1).
  const m = /^(\d+)[ \t]+([A-Za-z0-9\-.!%*_+`'~]+)$/.exec(trimLws(value));
  if (!m) throw new SipParseError(`invalid CSeq: ${JSON.stringify(value)}`);
  const seq = Number(m[1]);
  // CSeq numbers MUST be expressible as a 32-bit unsigned integer (RFC 3261 §8.1.1.5); RFC 4475
  // §3.1.2.4 answers a larger one with 400.
  if (seq > 0xffffffff) throw new SipParseError(`CSeq number too large: ${m[1]!.slice(0, 40)}`);
  return { seq, method: m[2]! };
}

/** A header that must be a non-negative integer (Content-Length, Max-Forwards, Expires …). */
export function parseInteger(name: string, value: string, max = 0xffffffff): number {
  const t = trimLws(value);
  // 1*DIGIT: any number of leading zeros ("MaX-fOrWaRdS: 0068" in RFC 4475 §3.1.1.1). Number() of a
  // long digit string is a large number or Infinity, never a wrapped negative (RFC 4475 §3.1.2.3).
  if (!/^\d+$/.test(t)) throw new SipParseError(`invalid ${name}: ${JSON.stringify(value.slice(0, 100))}`);
  const n = Number(t);
  if (n > max) throw new SipParseError(`${name} out of range: ${t.slice(0, 40)}`);
  return n;
}
