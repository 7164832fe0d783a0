/**
 * Cuts a byte stream (TCP, TLS) into SIP messages by their Content-Length (RFC 3261 §18.3).
 * CRLF keep-alives between messages are reported separately (RFC 5626 §3.5.1: a CRLFCRLF ping
 * gets a CRLF pong). A header section or body beyond the size cap is an error: the connection
 * must then be closed, because the stream can no longer be framed.
 */
import { findHeaderEnd } from './parser.ts';

export type Frame = { kind: 'message'; bytes: Buffer } | { kind: 'ping' } | { kind: 'error'; reason: string };

export class SipStreamFramer {
  private buffer: Buffer = Buffer.alloc(0);

  constructor(private readonly maxBytes = 64 * 1024) {}

  /** Adds bytes; returns the frames now complete. After an `error` frame, discard the framer. */
  push(chunk: Buffer): Frame[] {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const frames: Frame[] = [];
    for (;;) {
      // Keep-alives: CRLFCRLF is a ping; lone CRLFs before a message are skipped.
      let skip = 0;
      while (skip < this.buffer.length && (this.buffer[skip] === 0x0d || this.buffer[skip] === 0x0a)) {
        if (this.buffer[skip] === 0x0d && this.buffer[skip + 1] === 0x0a && this.buffer[skip + 2] === 0x0d && this.buffer[skip + 3] === 0x0a) {
          frames.push({ kind: 'ping' });
          skip += 4;
        } else skip++;
      }
      if (skip > 0) this.buffer = this.buffer.subarray(skip);
      if (this.buffer.length === 0) return frames;

      const head = findHeaderEnd(this.buffer);
      if (!head) {
        if (this.buffer.length > this.maxBytes) frames.push({ kind: 'error', reason: 'header section too large' });
        return frames;
      }
      const headerText = this.buffer.subarray(0, head.end).toString('latin1');
      const m = /(?:^|\n)(?:content-length|l)[ \t]*:[ \t]*(\d{1,10})[ \t]*\r?$/im.exec(headerText);
      const length = m ? Number(m[1]) : 0;
      if (head.bodyStart + length > this.maxBytes) {
        frames.push({ kind: 'error', reason: 'message too large' });
        return frames;
      }
      if (this.buffer.length < head.bodyStart + length) return frames;
      frames.push({ kind: 'message', bytes: Buffer.from(this.buffer.subarray(0, head.bodyStart + length)) });
      this.buffer = this.buffer.subarray(head.bodyStart + length);
    }
  }
}
