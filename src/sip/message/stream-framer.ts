/**
 * Cuts a byte stream (TCP, TLS) into SIP messages by their Content-Length (RFC 3261 §18.3).
 * CRLF keep-alives between messages are reported separately (RFC 5626 §3.5.1: a CRLFCRLF ping
 * gets a CRLF pong). A header section or body beyond the size cap is an error, and so is a
 * Content-Length that cannot frame the body — negative, not a number, or given twice (RFC 4475
 * §3.1.2.3 "ncl", §3.3.9 "mcl01": "the framing error is not recoverable, and the connection should
 * be closed"). After an error the stream can no longer be framed: close the connection.
 *
 * Work per pushed byte is constant: the blank-line search resumes where it stopped, and the
 * buffer grows by doubling, so a message trickled in one byte at a time costs no more than one
 * arriving whole.
 */
import { trimLws } from './grammar.ts';
import { findHeaderEnd } from './parser.ts';

export type Frame = { kind: 'message'; bytes: Buffer } | { kind: 'ping' } | { kind: 'error'; reason: string };

const CR = 0x0d;
const LF = 0x0a;

export class SipStreamFramer {
  /** Unconsumed bytes are `storage[start, end)`. */
  private storage: Buffer = Buffer.alloc(0);
  private start = 0;
  private end = 0;
  /** Bytes of the pending message already searched for its blank line (the search resumes there). */
  private searched = 0;
  /** The pending message's header section has been read: its total length. */
  private pendingLength: number | undefined;
  private failed = false;

  constructor(private readonly maxBytes = 64 * 1024) {}

  /** Adds bytes; returns the frames now complete. After an `error` frame, discard the framer. */
  push(chunk: Buffer): Frame[] {
    if (this.failed) return [{ kind: 'error', reason: 'stream already failed' }];
    this.append(chunk);
    const frames: Frame[] = [];
    for (;;) {
      if (this.pendingLength === undefined) {
        if (!this.skipLineEnds(frames)) return frames;
        const head = this.readHead();
        if (head === 'wait') return frames;
        if (typeof head === 'string') return this.fail(frames, head);
        this.pendingLength = head;
      }
      if (this.end - this.start < this.pendingLength) return frames;
      frames.push({ kind: 'message', bytes: Buffer.from(this.storage.subarray(this.start, this.start + this.pendingLength)) });
      this.start += this.pendingLength;
      this.pendingLength = undefined;
      this.searched = 0;
    }
  }

  private append(chunk: Buffer): void {
    const live = this.end - this.start;
    if (this.end + chunk.length > this.storage.length) {
      const capacity = Math.max(1024, 2 * (live + chunk.length));
      const next = Buffer.allocUnsafe(capacity);
      this.storage.copy(next, 0, this.start, this.end);
      this.storage = next;
      this.start = 0;
      this.end = live;
    }
    chunk.copy(this.storage, this.end);
    this.end += chunk.length;
  }

  /**
   * Line ends before a message: CRLFCRLF is a ping, anything else is skipped. Returns false when
   * nothing but line ends is buffered — and keeps a trailing CR, CRLF or CRLFCR, which may be
   * the start of a ping whose rest is still on its way.
   */
  private skipLineEnds(frames: Frame[]): boolean {
    const b = this.storage;
    while (this.start < this.end && (b[this.start] === CR || b[this.start] === LF)) {
      const left = this.end - this.start;
      if (left >= 4 && b[this.start] === CR && b[this.start + 1] === LF && b[this.start + 2] === CR && b[this.start + 3] === LF) {
        frames.push({ kind: 'ping' });
        this.start += 4;
      } else if (left < 4 && isPingPrefix(b, this.start, this.end)) {
        return false;
      } else {
        this.start++;
      }
    }
    return this.start < this.end;
  }

  /** The pending message's total length, 'wait' for more bytes, or why the stream cannot be framed. */
  private readHead(): number | 'wait' | string {
    const view = this.storage.subarray(this.start, this.end);
    // The terminator is at most 4 bytes: resume the search just before where the last one ended.
    const head = findHeaderEnd(view, Math.max(0, this.searched - 3));
    if (!head) {
      this.searched = view.length;
      return view.length > this.maxBytes ? 'header section too large' : 'wait';
    }
    const length = contentLength(view.subarray(0, head.end).toString('latin1'));
    if (typeof length === 'string') return length;
    if (head.bodyStart + length > this.maxBytes) return 'message too large';
    return head.bodyStart + length;
  }

  private fail(frames: Frame[], reason: string): Frame[] {
    this.failed = true;
    this.storage = Buffer.alloc(0);
    this.start = this.end = 0;
    frames.push({ kind: 'error', reason });
    return frames;
  }
}

/** Whether `b[from, to)` is CR, CRLF or CRLFCR: the first bytes of a CRLFCRLF ping. */
function isPingPrefix(b: Buffer, from: number, to: number): boolean {
  const ping = [CR, LF, CR];
  for (let i = from; i < to; i++) if (b[i] !== ping[i - from]) return false;
  return true;
}

/**
 * The Content-Length of a header section (`Content-Length` or its compact form `l`, on a line of
 * its own or folded), 0 when there is none — RFC 3261 §18.3 makes it mandatory on streams, and a
 * message without one is read as having no body. A string is why it cannot frame the message.
 */
function contentLength(head: string): number | string {
  const values: string[] = [];
  let current: string | undefined;
  const take = () => {
    if (current === undefined) return;
    const colon = current.indexOf(':');
    if (colon > 0) {
      const name = trimLws(current.slice(0, colon)).toLowerCase();
      if (name === 'content-length' || name === 'l') values.push(trimLws(current.slice(colon + 1)));
    }
    current = undefined;
  };
  const lines = head.split(/\r?\n/);
  // Line 0 is the start line.
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line[0] === ' ' || line[0] === '\t') {
      if (current !== undefined) current += ` ${trimLws(line)}`;
    } else {
      take();
      current = line;
    }
  }
  take();
  if (values.length === 0) return 0;
  if (values.length > 1) return 'more than one Content-Length';
  const value = values[0]!;
  if (!/^\d+$/.test(value)) return `invalid Content-Length: ${JSON.stringify(value.slice(0, 40))}`;
  return Number(value);
}
