/**
 * SIP and SIPS URIs (RFC 3261 §19.1, §25.1), with any other scheme kept as an opaque absolute URI
 * (tel:, urn:, http: …). User and password stay percent-encoded as received; `decodedUser`
 * gives the text they stand for.
 */
import { parseParams, SipParseError, type Params } from './grammar.ts';

// user = 1*( unreserved / escaped / user-unreserved ), user-unreserved = "&" / "=" / "+" / "$" / "," / ";" / "?" / "/"
const USER = /^(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/]|%[0-9A-Fa-f]{2})+$/;
// password = *( unreserved / escaped / "&" / "=" / "+" / "$" / "," )
const PASSWORD = /^(?:[A-Za-z0-9\-_.!~*'()&=+$,]|%[0-9A-Fa-f]{2})*$/;
const HOSTNAME = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)*[A-Za-z](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.?$/;
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)$/;
const IPV6 = /^\[[0-9A-Fa-f:.]+\]$/;
const PARAM_CHARS = /^(?:[A-Za-z0-9\-_.!~*'()[\]/:&+$]|%[0-9A-Fa-f]{2})+$/;
const HEADER_CHARS = /^(?:[A-Za-z0-9\-_.!~*'()[\]/?:+$]|%[0-9A-Fa-f]{2})*$/;
// paramchar = param-unreserved / unreserved / escaped; hname and hvalue likewise with hnv-unreserved.
const PARAM_CHAR = /[A-Za-z0-9\-_.!~*'()[\]/:&+$]/;
const HEADER_CHAR = /[A-Za-z0-9\-_.!~*'()[\]/?:+$]/;

/**
 * Text for a URI parameter or header: kept as it is where the grammar allows it (as received
 * values always are, escapes included), anything else percent-encoded as UTF-8.
 */
function escapeUriText(text: string, allowed: RegExp): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (allowed.test(c) || (c === '%' && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3)))) out += c;
    else out += encodeURIComponent(c).replace(/[!'()*]/g, (x) => `%${x.charCodeAt(0).toString(16).toUpperCase()}`);
  }
  return out;
}

export class SipUri {
  constructor(
    public scheme: 'sip' | 'sips',
    public user: string | undefined,
    public host: string,
    public port: number | undefined,
    public params: Params = new Map(),
    public headers: Map<string, string> = new Map(),
    public password?: string,
  ) {}

  get isSip(): true {
    return true;
  }

  get decodedUser(): string | undefined {
    return this.user === undefined ? undefined : percentDecode(this.user);
  }

  /** Host in lower case, without brackets for IPv6. */
  get hostname(): string {
    return this.host.startsWith('[') ? this.host.slice(1, -1).toLowerCase() : this.host.toLowerCase();
  }

  param(name: string): string | null | undefined {
    return this.params.get(name.toLowerCase());
  }

  /** `user@host` in lower-case host: the address-of-record key of a registration. */
  get aor(): string {
    return `${this.scheme}:${this.user ? `${this.decodedUser}@` : ''}${this.host.toLowerCase()}`;
  }

  clone(): SipUri {
    return new SipUri(this.scheme, this.user, this.host, this.port, new Map(this.params), new Map(this.headers), this.password);
  }

  toString(): string {
    let out = `${this.scheme}:`;
    if (this.user !== undefined) out += this.user + (this.password !== undefined ? `:${this.password}` : '') + '@';
    out += this.host;
    if (this.port !== undefined) out += `:${this.port}`;
    // URI parameters and headers are escaped text, never quoted strings (RFC 3261 §25.1 uri-parameter, headers).
    for (const [name, value] of this.params) out += value === null ? `;${escapeUriText(name, PARAM_CHAR)}` : `;${escapeUriText(name, PARAM_CHAR)}=${escapeUriText(value, PARAM_CHAR)}`;
    if (this.headers.size > 0) {
      out += '?' + [...this.headers].map(([k, v]) => `${escapeUriText(k, HEADER_CHAR)}=${escapeUriText(v, HEADER_CHAR)}`).join('&');
    }
    return out;
  }
}

/** A URI of another scheme, kept as text. */
export class AbsoluteUri {
  constructor(
    readonly scheme: string,
    readonly rest: string,
  ) {}

  get isSip(): false {
    return false;
  }

  toString(): string {
    return `${this.scheme}:${this.rest}`;
  }
}

export type Uri = SipUri | AbsoluteUri;

export function percentDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export function parseUri(text: string): Uri {
  const colon = text.indexOf(':');
  if (colon <= 0) throw new SipParseError(`not a URI: ${JSON.stringify(text)}`);
  const scheme = text.slice(0, colon).toLowerCase();
  if (!/^[a-z][a-z0-9+\-.]*$/.test(scheme)) throw new SipParseError(`invalid URI scheme: ${JSON.stringify(text)}`);
  const rest = text.slice(colon + 1);
  if (scheme !== 'sip' && scheme !== 'sips') {
    if (rest === '' || /[\s<>"]/.test(rest)) throw new SipParseError(`invalid URI: ${JSON.stringify(text)}`);
    return new AbsoluteUri(scheme, rest);
  }
  if (/[\s<>"]/.test(rest)) throw new SipParseError(`invalid SIP URI: ${JSON.stringify(text)}`);

  let user: string | undefined;
  let password: string | undefined;
  let hostPart = rest;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    hostPart = rest.slice(at + 1);
    const pw = userinfo.indexOf(':');
    user = pw >= 0 ? userinfo.slice(0, pw) : userinfo;
    password = pw >= 0 ? userinfo.slice(pw + 1) : undefined;
    if (!USER.test(user)) throw new SipParseError(`invalid user part in ${JSON.stringify(text)}`);
    if (password !== undefined && !PASSWORD.test(password)) throw new SipParseError(`invalid password in ${JSON.stringify(text)}`);
  }

  let headersText: string | undefined;
  const q = hostPart.indexOf('?');
  if (q >= 0) {
    headersText = hostPart.slice(q + 1);
    hostPart = hostPart.slice(0, q);
  }
  let paramsText = '';
  const semi = hostPart.indexOf(';');
  if (semi >= 0) {
    paramsText = hostPart.slice(semi);
    hostPart = hostPart.slice(0, semi);
  }

  let host = hostPart;
  let port: number | undefined;
  if (hostPart.startsWith('[')) {
    const close = hostPart.indexOf(']');
    if (close < 0) throw new SipParseError(`invalid IPv6 reference in ${JSON.stringify(text)}`);
    host = hostPart.slice(0, close + 1);
    const after = hostPart.slice(close + 1);
    if (after !== '') {
      if (!/^:\d{1,5}$/.test(after)) throw new SipParseError(`invalid port in ${JSON.stringify(text)}`);
      port = Number(after.slice(1));
    }
  } else {
    const pc = hostPart.lastIndexOf(':');
    if (pc >= 0) {
      host = hostPart.slice(0, pc);
      const p = hostPart.slice(pc + 1);
      if (!/^\d{1,5}$/.test(p)) throw new SipParseError(`invalid port in ${JSON.stringify(text)}`);
      port = Number(p);
    }
  }
  if (port !== undefined && port > 65535) throw new SipParseError(`port out of range in ${JSON.stringify(text)}`);
  if (!(IPV4.test(host) || IPV6.test(host) || HOSTNAME.test(host))) throw new SipParseError(`invalid host in ${JSON.stringify(text)}`);

  const params: Params = new Map();
  if (paramsText) {
    for (const part of paramsText.slice(1).split(';')) {
      const eq = part.indexOf('=');
      const name = eq >= 0 ? part.slice(0, eq) : part;
      const value = eq >= 0 ? part.slice(eq + 1) : null;
      if (!PARAM_CHARS.test(name) || (value !== null && !PARAM_CHARS.test(value))) {
        throw new SipParseError(`invalid URI parameter ${JSON.stringify(part)} in ${JSON.stringify(text)}`);
      }
      params.set(name.toLowerCase(), value);
    }
  }
  const headers = new Map<string, string>();
  if (headersText !== undefined) {
    for (const part of headersText.split('&')) {
      const eq = part.indexOf('=');
      if (eq <= 0 || !HEADER_CHARS.test(part.slice(0, eq)) || !HEADER_CHARS.test(part.slice(eq + 1))) {
        throw new SipParseError(`invalid URI header ${JSON.stringify(part)} in ${JSON.stringify(text)}`);
      }
      headers.set(part.slice(0, eq), part.slice(eq + 1));
    }
  }
  return new SipUri(scheme, user, host, port, params, headers, password);
}

export function parseSipUri(text: string): SipUri {
  const uri = parseUri(text);
  if (!uri.isSip) throw new SipParseError(`not a SIP URI: ${JSON.stringify(text)}`);
  return uri;
}

/** Re-exported for header code that reads `;params` after a URI. */
export { parseParams };
