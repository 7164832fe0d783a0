/**
 * The SIP message parser (RFC 3261 §7, hardened by the RFC 4475 torture tests).
 *
 * It never throws anything but `SipParseError`, and never loops on input: every loop advances.
 * A request whose start line and identifying headers could be read carries them on the error
 * (`partial`), so the transport can still answer 400 where a response can be sent.
 */
import { SipParseError, splitTopLevel } from './grammar.ts';
import { canonicalHeaderName, parseInteger } from './headers.ts';
import { SIP_VERSION, SipRequest, SipResponse, type AnySipMessage, type Header } from './message.ts';
import { parseUri } from './uri.ts';

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

/** Index just past the blank line ending the header section, and the length of that terminator. */
export function findHeaderEnd(buf: Buffer, from = 0): { end: number; bodyStart: number } | undefined {
  const crlf = buf.indexOf('\r\n\r\n', from, 'latin1');
  const lflf = buf.indexOf('\n\n', from, 'latin1');
  if (crlf >= 0 && (lflf < 0 || crlf < lflf)) return { end: crlf, bodyStart: crlf + 4 };
  if (lflf >= 0) return { end: lflf, bodyStart: lflf + 2 };
  return undefined;
}

/** Parses one complete message (a datagram, or a frame cut by `SipStreamFramer`). */
export function parseMessage(buf: Buffer, options: ParseOptions = {}): AnySipMessage {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX;
  if (buf.length > maxBytes) throw new SipMessageError(`message larger than ${maxBytes} bytes`, 513);
  // Leading CRLFs (keep-alives, stray line ends) are ignored before a start line (RFC 3261 §7.5).
  let start = 0;
  while (start < buf.length && (buf[start] === 0x0d || buf[start] === 0x0a)) start++;
  const boundary = findHeaderEnd(buf, start);
  const headText = (boundary ? buf.subarray(start, boundary.end) : buf.subarray(start)).toString('utf8');
  const lines = headText.split(/\r?\n/);
  const startLine = lines[0] ?? '';

  let request: { method: string; uriText: string } | undefined;
  let status: { code: number; reason: string } | undefined;
  if (startLine.startsWith(`${SIP_VERSION} `) || /^SIP\/\d+\.\d+ \d/.test(startLine)) {
    const m = /^SIP\/(\d+\.\d+) (\d{3}) (.*)$/.exec(startLine);
    if (!m) throw new SipMessageError(`invalid status line: ${JSON.stringify(startLine.slice(0, 100))}`, 400);
    if (m[1] !== '2.0') throw new SipMessageError(`unsupported SIP version SIP/${m[1]}`, 505);
    const code = Number(m[2]);
    if (code < 100 || code > 699) throw new SipMessageError(`status code out of range: ${code}`, 400);
    status = { code, reason: m[3]! };
  } else {
    // Request-Line = Method SP Request-URI SP SIP-Version — exactly one SP each (RFC 3261 §25.1).
    const parts = startLine.split(' ');
    if (parts.length !== 3 || !METHOD.test(parts[0]!) || parts[1] === '') {
      throw new SipMessageError(`invalid request line: ${JSON.stringify(startLine.slice(0, 100))}`, 400);
    }
    request = { method: parts[0]!, uriText: parts[1]! };
    if (!/^SIP\/\d+\.\d+$/i.test(parts[2]!)) throw new SipMessageError(`invalid SIP version ${JSON.stringify(parts[2])}`, 400);
    if (parts[2] !== SIP_VERSION) {
      throw new SipMessageError(`unsupported SIP version ${parts[2]}`, 505, { method: request.method, headers: [] });
    }
  }

  // Header lines, unfolded: a line starting with SP or HT continues the previous one.
  const headers: Header[] = [];
  let current: string | undefined;
  const flush = () => {
    if (current === undefined) return;
    const colon = current.indexOf(':');
    const name = colon > 0 ? current.slice(0, colon).trimEnd() : '';
    if (!HEADER_NAME.test(name)) throw new SipMessageError(`invalid header line: ${JSON.stringify(current.slice(0, 100))}`, 400, partial());
    headers.push({ name: canonicalHeaderName(name), value: current.slice(colon + 1).trim() });
    current = undefined;
  };
  const partial = (): PartialRequest | undefined => (request ? { method: request.method, headers } : undefined);
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    if (line[0] === ' ' || line[0] === '\t') {
      if (current === undefined) throw new SipMessageError('continuation line without a header', 400, partial());
      current += ` ${line.trim()}`;
    } else {
      flush();
      current = line;
    }
  }
  flush();

  // Body framing.
  const lengths = headers.filter((h) => h.name === 'Content-Length');
  if (!boundary && options.stream) throw new SipMessageError('incomplete message', 400, partial());
  const bodyStart = boundary ? boundary.bodyStart : buf.length;
  let contentLength: number | undefined;
  if (lengths.length > 1 || (lengths[0] && splitTopLevel(lengths[0].value).length > 1)) {
    throw new SipMessageError('more than one Content-Length', 400, partial());
  }
  if (lengths[0]) {
    try {
      contentLength = parseInteger('Content-Length', lengths[0].value);
    } catch (err) {
      throw new SipMessageError((err as Error).message, 400, partial());
    }
  }
  const available = buf.length - bodyStart;
  if (contentLength === undefined) {
    if (options.stream) contentLength = 0;
    else contentLength = available;
  }
  if (contentLength > available) {
    throw new SipMessageError(`Content-Length ${contentLength} is larger than the ${available}-byte body`, 400, partial());
  }
  const body = Buffer.from(buf.subarray(bodyStart, bodyStart + contentLength));

  const message: AnySipMessage = request
    ? new SipRequest(request.method, parseRequestUri(request.uriText, partial()), headers, body)
    : new SipResponse(status!.code, status!.reason, headers, body);

  try {
    validate(message);
  } catch (err) {
    if (err instanceof SipMessageError) throw err;
    throw new SipMessageError(err instanceof SipParseError ? err.message : 'malformed message', err instanceof SipParseError ? err.status : 400, partial());
  }
  return message;
}

function parseRequestUri(text: string, partial: PartialRequest | undefined) {
  try {
    return parseUri(text);
  } catch (err) {
    throw new SipMessageError(`invalid Request-URI: ${(err as Error).message}`, 400, partial);
  }
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
  const cseq = message.cseq;
  if (cseq.seq > 0x7fffffff) throw new SipParseError('CSeq number out of range');
  void message.from;
  void message.to;
  if (message.isRequest) {
    // The method in CSeq must be the request's (RFC 4475 §3.1.2.14 "mismatch01").
    if (cseq.method !== message.method) throw new SipParseError(`CSeq method ${cseq.method} does not match ${message.method}`);
    const mf = message.headerValues('Max-Forwards');
    if (mf.length > 1) throw new SipParseError('more than one Max-Forwards');
    if (mf.length === 1) parseInteger('Max-Forwards', mf[0]!, 255);
    if (message.hasHeader('Expires')) parseInteger('Expires', message.header('Expires')!);
    if (message.method === 'REGISTER' || message.method === 'INVITE') void message.contacts;
  }
}
