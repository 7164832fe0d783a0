/**
 * The SIP message parser (RFC 3261 §7, hardened by the RFC 4475 torture tests).
 *
 * It never throws anything but `SipMessageError`, and never loops on input: every loop advances,
 * and no pattern backtracks more than linearly. The error's `status` is the answer RFC 3261 and
 * RFC 4475 give (400, 501, 505, 513); a request whose start line could be read carries what was
 * read of its headers on the error (`partial`), so the transport can still address that answer.
 * An error without `partial` (a response, an unreadable start line) is dropped.
 */
import { SipParseError, trimLws } from './grammar.ts';
import { canonicalHeaderName, parseInteger } from './headers.ts';
import { SIP_VERSION, SipRequest, SipResponse, type AnySipMessage, type Header } from './message.ts';
import { parseUri, type Uri } from './uri.ts';

/** What is known of a request that failed to parse: enough to build an error response. */
export interface PartialRequest {
  method: string;
  headers: Header[];
}

export class SipMessageError extends SipParseError {
  constructor(
    message: string,
    status: number,
    readonly partial?: PartialRequest,
  ) {
    super(message, status);
    this.name = 'SipMessageError';
  }
}

export interface ParseOptions {
  /** Stream transports frame by Content-Length, which is then mandatory; datagrams may omit it. */
  stream?: boolean;
  /** Largest message accepted (RFC: implementations should handle at least 64 KB on streams). */
  maxBytes?: number;
}

const METHOD = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
const HEADER_NAME = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
const DEFAULT_MAX = 64 * 1024;

/**
 * The methods of RFC 3261 and its registered extensions (PRACK, SUBSCRIBE/NOTIFY, PUBLISH, INFO,
 * REFER, MESSAGE, UPDATE). Methods are case-sensitive: `invite` is not INVITE.
 * https://www.iana.org/assignments/sip-parameters/sip-parameters.xhtml#sip-parameters-6
 */
const KNOWN_METHODS = new Set([
  'INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER',
  'PRACK', 'SUBSCRIBE', 'NOTIFY', 'PUBLISH', 'INFO', 'REFER', 'MESSAGE', 'UPDATE',
]);

/** Index just past the blank line ending the header section, and the length of that terminator. */
export function findHeaderEnd(buf: Buffer, from = 0): { end: number; bodyStart: number } | undefined {
  const crlf = buf.indexOf('\r\n\r\n', from, 'latin1');
  const lflf = buf.indexOf('\n\n', from, 'latin1');
  if (crlf >= 0 && (lflf < 0 || crlf < lflf)) return { end: crlf, bodyStart: crlf + 4 };
  if (lflf >= 0) return { end: lflf, bodyStart: lflf + 2 };
  return undefined;
}

type StartLine =
  /** `malformed`: the line starts with a method but is not a Request-Line; it is still answered. */
  | { kind: 'request'; method: string; uriText: string; version: string; malformed?: string }
  | { kind: 'response'; code: number; reason: string; version: string };

/**
 * Request-Line = Method SP Request-URI SP SIP-Version CRLF, with exactly one SP between the parts
 * (RFC 4475 §3.1.2.7–3.1.2.10: extra or embedded white space may be rejected, and is).
 * Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF; the SP after the code is
 * required even when the phrase is empty (RFC 4475 §3.1.1.13).
 * https://www.rfc-editor.org/rfc/rfc3261#section-25.1
 */
function parseStartLine(line: string): StartLine {
  if (/^SIP\//i.test(line)) {
    const m = /^SIP\/(\d+\.\d+) (\d{3}) (.*)$/i.exec(line);
    if (!m) throw new SipMessageError(`invalid status line: ${JSON.stringify(line.slice(0, 100))}`, 400);
    const code = Number(m[2]);
    // Status-Code is 3DIGIT, and only 100–699 are defined (RFC 4475 §3.1.2.19: drop the rest).
    if (code < 100 || code > 699) throw new SipMessageError(`status code out of range: ${code}`, 400);
    return { kind: 'response', code, reason: m[3]!, version: `SIP/${m[1]}` };
  }
  const parts = line.split(' ');
  const method = parts[0]!;
  if (parts.length === 3 && METHOD.test(method) && parts[1] !== '' && /^SIP\/\d+\.\d+$/i.test(parts[2]!)) {
    return { kind: 'request', method, uriText: parts[1]!, version: parts[2]! };
  }
  const reason = `invalid request line: ${JSON.stringify(line.slice(0, 100))}`;
  // A method and a space: a request, just a malformed one. RFC 4475 has such requests answered
  // with 400 (§3.1.2.8–3.1.2.10), and the answer needs the headers, which follow.
  if (parts.length > 1 && METHOD.test(method)) return { kind: 'request', method, uriText: '', version: SIP_VERSION, malformed: reason };
  throw new SipMessageError(reason, 400);
}

/** "The SIP-Version string is case-insensitive" — https://www.rfc-editor.org/rfc/rfc3261#section-7.1 */
function isSupportedVersion(version: string): boolean {
  return version.toUpperCase() === SIP_VERSION;
}

/**
 * Header lines, unfolded: a line starting with SP or HT continues the previous one, and the line
 * break is read as one SP (RFC 3261 §7.3.1). `onError` gets the headers read before a bad line.
 */
function readHeaders(lines: string[], onError: (reason: string, headers: Header[]) => never): Header[] {
  const headers: Header[] = [];
  let current: string | undefined;
  const flush = () => {
    if (current === undefined) return;
    const colon = current.indexOf(':');
    // HCOLON = *( SP / HTAB ) ":" SWS
    // (trimLws, not a /[ \t]+$/ regex: that one is quadratic on a long run of white space)
    const name = colon > 0 ? trimLws(current.slice(0, colon)) : '';
    if (!HEADER_NAME.test(name)) onError(`invalid header line: ${JSON.stringify(current.slice(0, 100))}`, headers);
    headers.push({ name: canonicalHeaderName(name), value: trimLws(current.slice(colon + 1)) });
    current = undefined;
  };
  for (let i = 1; i < lines.length; i++) {
    // A CR is only ever part of a line end: the grammar has none inside a header, not even as a
    // quoted-pair (RFC 3261 §25.1). Refusing a bare one keeps a forwarded copy from being split
    // differently by the next parser. (A CR before an LF-only blank line is a line end.)
    const line = i === lines.length - 1 && lines[i]!.endsWith('\r') ? lines[i]!.slice(0, -1) : lines[i]!;
    if (line.includes('\r')) onError('CR inside a header line', headers);
    if (line === '') continue;
    if (line[0] === ' ' || line[0] === '\t') {
      if (current === undefined) onError('continuation line without a header', headers);
      current += ` ${trimLws(line)}`;
    } else {
      flush();
      current = line;
    }
  }
  flush();
  return headers;
}

/** The start line and header lines of a message, from the first byte that is not a line end. */
function splitHead(buf: Buffer): { lines: string[]; boundary: { end: number; bodyStart: number } | undefined } {
  // Leading CRLFs (keep-alives, stray line ends) are ignored before a start line (RFC 3261 §7.5).
  let start = 0;
  while (start < buf.length && (buf[start] === 0x0d || buf[start] === 0x0a)) start++;
  const boundary = findHeaderEnd(buf, start);
  const headText = (boundary ? buf.subarray(start, boundary.end) : buf.subarray(start)).toString('utf8');
  return { lines: headText.split(/\r?\n/), boundary };
}

/**
 * What can be read of a request too large to parse, so that its 513 can be addressed. Best effort:
 * never throws, and looks at no more than the first `limit` bytes.
 */
function readPartial(buf: Buffer, limit: number): PartialRequest | undefined {
  const { lines, boundary } = splitHead(buf.subarray(0, limit));
  let startLine: StartLine;
  try {
    startLine = parseStartLine(lines[0] ?? '');
  } catch {
    return undefined;
  }
  if (startLine.kind !== 'request') return undefined;
  // Without the blank line inside the limit, the last line may have been cut: leave it out.
  const complete = boundary ? lines : lines.slice(0, -1);
  let headers: Header[] = [];
  try {
    headers = readHeaders(complete, (_reason, sofar) => {
      headers = sofar;
      throw new SipParseError('partial');
    });
  } catch {
    // keep what was read before the bad line
  }
  return { method: startLine.method, headers };
}

/** Parses one complete message (a datagram, or a frame cut by `SipStreamFramer`). */
export function parseMessage(buf: Buffer, options: ParseOptions = {}): AnySipMessage {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX;
  if (buf.length > maxBytes) {
    // 513 Message Too Large still needs the request's Via, From, To, Call-ID and CSeq.
    // https://www.rfc-editor.org/rfc/rfc3261#section-21.5.7
    throw new SipMessageError(`message larger than ${maxBytes} bytes`, 513, readPartial(buf, maxBytes));
  }
  const { lines, boundary } = splitHead(buf);
  const startLine = parseStartLine(lines[0] ?? '');
  const method = startLine.kind === 'request' ? startLine.method : undefined;
  const partialOf = (headers: Header[]): PartialRequest | undefined => (method === undefined ? undefined : { method, headers });

  if (startLine.kind === 'response' && !isSupportedVersion(startLine.version)) {
    throw new SipMessageError(`unsupported SIP version ${startLine.version}`, 505);
  }
  // A request of another SIP version is answered 505 (RFC 4475 §3.1.2.16 "badvers"). The answer
  // needs the request's headers, so they are read first — as far as they can be.
  const versionError = startLine.kind === 'request' && !isSupportedVersion(startLine.version)
    ? `unsupported SIP version ${startLine.version}`
    : undefined;
  const headers = readHeaders(lines, (reason, sofar) => {
    throw new SipMessageError(versionError ?? reason, versionError ? 505 : 400, partialOf(sofar));
  });
  if (versionError) throw new SipMessageError(versionError, 505, partialOf(headers));
  const partial = partialOf(headers);
  if (startLine.kind === 'request' && startLine.malformed) throw new SipMessageError(startLine.malformed, 400, partial);

  // Body framing (RFC 3261 §18.3): Content-Length is mandatory on streams; on a datagram without
  // one, the body is the rest of the datagram, and octets past a given length are ignored.
  const lengths = headers.filter((h) => h.name === 'Content-Length');
  if (!boundary && options.stream) throw new SipMessageError('incomplete message', 400, partial);
  const bodyStart = boundary ? boundary.bodyStart : buf.length;
  let contentLength: number | undefined;
  // More than one value leaves the body's extent unknown (RFC 4475 §3.3.9 "mcl01").
  if (lengths.length > 1 || lengths[0]?.value.includes(',')) {
    throw new SipMessageError('more than one Content-Length', 400, partial);
  }
  if (lengths[0]) {
    try {
      contentLength = parseInteger('Content-Length', lengths[0].value);
    } catch (err) {
      throw new SipMessageError((err as Error).message, 400, partial);
    }
  }
  const available = buf.length - bodyStart;
  if (contentLength === undefined) {
    if (options.stream) contentLength = 0;
    else contentLength = available;
  }
  // Over UDP a body shorter than its Content-Length is answered 400 (RFC 4475 §3.1.2.2 "clerr").
  if (contentLength > available) {
    throw new SipMessageError(`Content-Length ${contentLength} is larger than the ${available}-byte body`, 400, partial);
  }
  const body = Buffer.from(buf.subarray(bodyStart, bodyStart + contentLength));

  const message: AnySipMessage =
    startLine.kind === 'request'
      ? new SipRequest(startLine.method, parseRequestUri(startLine.uriText, partial), headers, body)
      : new SipResponse(startLine.code, startLine.reason, headers, body);

  try {
    validate(message);
  } catch (err) {
    if (err instanceof SipMessageError) throw err;
    throw new SipMessageError(err instanceof SipParseError ? err.message : 'malformed message', err instanceof SipParseError ? err.status : 400, partial);
  }
  return message;
}

function parseRequestUri(text: string, partial: PartialRequest | undefined): Uri {
  let uri: Uri;
  try {
    uri = parseUri(text);
  } catch (err) {
    throw new SipMessageError(`invalid Request-URI: ${(err as Error).message}`, 400, partial);
  }
  // Headers are not allowed in a Request-URI (RFC 3261 §19.1.1, the table's "headers" row), and
  // RFC 4475 §3.1.2.11 "escruri" has a request carrying them rejected with 400 rather than
  // forwarded with them stripped.
  if (uri.isSip && uri.headers.size > 0) {
    throw new SipMessageError(`Request-URI with headers: ${JSON.stringify(text.slice(0, 100))}`, 400, partial);
  }
  return uri;
}

/** The headers every message must carry, each well-formed (RFC 3261 §8.1.1, §20). */
function validate(message: AnySipMessage): void {
  const single = (name: string) => {
    const count = message.headers.filter((h) => h.name === name).length;
    if (count === 0) throw new SipParseError(`missing ${name}`);
    if (count > 1) throw new SipParseError(`more than one ${name}`);
  };
  single('Call-ID');
  single('CSeq');
  single('From');
  single('To');
  if (message.vias.length === 0) throw new SipParseError('missing Via');
  if (!/^[A-Za-z0-9\-.!%*_+`'~()<>:\\"/[\]?{}]+(@[A-Za-z0-9\-.!%*_+`'~()<>:\\"/[\]?{}]+)?$/.test(message.callId)) {
    throw new SipParseError(`invalid Call-ID: ${JSON.stringify(message.callId)}`);
  }
  // parseCSeq holds the number to 32 bits (RFC 3261 §8.1.1.5, RFC 4475 §3.1.2.4). The "less than
  // 2**31" of §8.1.1.5 binds the number a UAC starts from, not the ones it reaches in a dialog.
  const cseq = message.cseq;
  void message.from;
  void message.to;
  if (message.isRequest) {
    // The method in CSeq must be the request's (RFC 4475 §3.1.2.17 "mismatch01": 400). When the
    // request's own method is one nobody here knows, the answer is 501 whatever its CSeq says
    // (RFC 4475 §3.1.2.18 "mismatch02": 501 is preferred to 400; RFC 3261 §8.2.1).
    if (cseq.method !== message.method) {
      throw new SipParseError(`CSeq method ${cseq.method} does not match ${message.method}`, KNOWN_METHODS.has(message.method) ? 400 : 501);
    }
    const mf = message.headerValues('Max-Forwards');
    if (mf.length > 1) throw new SipParseError('more than one Max-Forwards');
    if (mf.length === 1) parseInteger('Max-Forwards', mf[0]!, 255);
    if (message.hasHeader('Expires')) parseInteger('Expires', message.header('Expires')!);
    if (message.method === 'REGISTER' || message.method === 'INVITE') void message.contacts;
  }
}
