/**
 * Small pieces of the RFC 3261 §25 grammar shared by the header parsers: tokens, quoted strings,
 * parameters, and splitting comma-separated header values without breaking quoted strings or
 * angle-bracketed URIs.
 */

/** A malformed message or header. `status` is the response a server should send, when it can. */
export class SipParseError extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = 'SipParseError';
  }
}

// token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
// https://www.rfc-editor.org/rfc/rfc3261#section-25.1
export const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;

export function isToken(s: string): boolean {
  return TOKEN.test(s);
}

/** Linear white space, including folded line breaks (already unfolded by the message parser). */
export const LWS = /[ \t]+/;

/**
 * Strips SP and HTAB — SIP's white space (RFC 3261 §25.1: LWS, SWS) — from both ends. Not
 * `String.prototype.trim`, which also takes U+FEFF, U+00A0 and other Unicode spaces that are text
 * in SIP: RFC 4475 §3.1.1.2 has a header value that starts with U+FEFF.
 */
export function trimLws(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && (s.charCodeAt(start) === 0x20 || s.charCodeAt(start) === 0x09)) start++;
  while (end > start && (s.charCodeAt(end - 1) === 0x20 || s.charCodeAt(end - 1) === 0x09)) end--;
  return start === 0 && end === s.length ? s : s.slice(start, end);
}

/**
 * Splits `a, "b, c" <sip:d,e>, f` at the top-level commas. Used for headers whose grammar is a
 * comma-separated list (Via, Contact, Route …), never for those that contain commas themselves
 * (Date, WWW-Authenticate …).
 */
export function splitTopLevel(value: string, separator = ','): string[] {
  const out: string[] = [];
  let depthAngle = 0;
  let inQuote = false;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (inQuote) {
      if (c === '\\') i++;
      else if (c === '"') inQuote = false;
    } else if (c === '"') inQuote = true;
    else if (c === '<') depthAngle++;
    else if (c === '>') depthAngle = Math.max(0, depthAngle - 1);
    else if (c === separator && depthAngle === 0) {
      out.push(value.slice(start, i));
      start = i + 1;
    }
  }
  if (inQuote) throw new SipParseError('unterminated quoted string');
  out.push(value.slice(start));
  return out.map(trimLws);
}

/** Reads a quoted-string starting at `value[start] === '"'`; returns the unescaped text and the index after it. */
export function readQuoted(value: string, start: number): { text: string; end: number } {
  let text = '';
  for (let i = start + 1; i < value.length; i++) {
    const c = value[i]!;
    if (c === '\\') {
      if (i + 1 >= value.length) break;
      const next = value.charCodeAt(i + 1);
      // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F): CR and LF cannot be escaped.
      if (next === 0x0a || next === 0x0d) throw new SipParseError('invalid escape in quoted string');
      text += value[i + 1];
      i++;
    } else if (c === '"') {
      return { text, end: i + 1 };
    } else {
      text += c;
    }
  }
  throw new SipParseError('unterminated quoted string');
}

/**
 * Writes `text` as a quoted-string. `"` and `\` are escaped, and so is every control character,
 * because qdtext admits none of them: only a quoted-pair can carry them (RFC 4475 §3.1.1.2 has a
 * display name with BEL, NUL and DEL). CR and LF cannot be carried even so — a quoted-pair
 * excludes them — and are written as SP, which is what a folded line break means.
 * https://www.rfc-editor.org/rfc/rfc3261#section-25.1 (quoted-string, qdtext, quoted-pair)
 */
export function quote(text: string): string {
  return `"${text.replace(/[\r\n]/g, ' ').replace(/["\\\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g, '\\$&')}"`;
}

/** Parameters: `;name=value;flag;q="x"`. Names are case-insensitive and stored lower-cased. */
export type Params = Map<string, string | null>;

/**
 * Parses `;a=1 ; b = "two" ;c` (the part from the first `;`). Quoted values are unquoted.
 * Throws on a name that is not a token or a value that is neither a token nor a quoted string
 * (host-like values such as `received=[::1]` are allowed).
 */
export function parseParams(text: string): Params {
  const params: Params = new Map();
  let i = 0;
  const n = text.length;
  const skipWs = () => {
    while (i < n && (text[i] === ' ' || text[i] === '\t')) i++;
  };
  skipWs();
  while (i < n) {
    if (text[i] !== ';') throw new SipParseError(`expected ';' in parameters: ${text}`);
    i++;
    skipWs();
    let nameStart = i;
    while (i < n && !'=; \t'.includes(text[i]!)) i++;
    const name = text.slice(nameStart, i);
    if (!isToken(name)) throw new SipParseError(`invalid parameter name: ${JSON.stringify(name)}`);
    skipWs();
    let value: string | null = null;
    if (text[i] === '=') {
      i++;
      skipWs();
      if (text[i] === '"') {
        const q = readQuoted(text, i);
        value = q.text;
        i = q.end;
      } else {
        nameStart = i;
        while (i < n && !'; \t,'.includes(text[i]!)) i++;
        value = text.slice(nameStart, i);
        if (value === '' || !/^[A-Za-z0-9\-.!%*_+`'~:[\]]+$/.test(value)) {
          throw new SipParseError(`invalid value of parameter ${name}: ${JSON.stringify(value)}`);
        }
      }
    }
    params.set(name.toLowerCase(), value);
    skipWs();
  }
  return params;
}

export function formatParams(params: Params): string {
  let out = '';
  for (const [k, v] of params) {
    if (v === null) out += `;${k}`;
    else out += `;${k}=${isToken(v) || /^[A-Za-z0-9\-.!%*_+`'~:[\]]+$/.test(v) ? v : quote(v)}`;
  }
  return out;
}
