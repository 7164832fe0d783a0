/**
 * Every message of the RFC 4475 torture-test directory, handled as RFC 4475 §3 says: valid ones
 * parse to the values its prose describes, invalid ones are rejected with the status a server
 * answers (or dropped, for responses) — with what the answer needs to be addressed.
 */
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RFC4475_DIR, TORTURE_MESSAGES, tortureMessage, type TortureMessage } from '../../../test/support/rfc4475.ts';
import { parseMessage, SipMessageError, SipStreamFramer, type AnySipMessage, type Frame, type NameAddr } from './index.ts';

function rejection(bytes: Buffer, options = {}): SipMessageError {
  try {
    parseMessage(bytes, options);
  } catch (err) {
    expect(err).toBeInstanceOf(SipMessageError);
    return err as SipMessageError;
  }
  throw new Error('the message was accepted');
}

/** What a message says, structured: start line, headers (but the Content-Length `toBuffer` recomputes), body, and the parsed headers. */
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
    contacts: m.isRequest && (m.method === 'REGISTER' || m.method === 'INVITE') ? m.contacts : undefined,
  };
}

const label = (m: TortureMessage) => `${m.section ?? 'not RFC 4475'} ${m.file} (${m.title})`;

describe('the RFC 4475 torture-test directory', () => {
  it('has an entry for every file, and RFC 4475 has 49 of them', () => {
    const files = readdirSync(RFC4475_DIR).filter((f) => f.endsWith('.dat')).sort();
    expect(TORTURE_MESSAGES.map((m) => m.file).sort()).toEqual(files);
    expect(TORTURE_MESSAGES.filter((m) => m.section !== null)).toHaveLength(49);
    expect(new Set(TORTURE_MESSAGES.map((m) => m.section)).size).toBe(TORTURE_MESSAGES.length);
  });

  it('says who answers each request, and drops every response', () => {
    for (const m of TORTURE_MESSAGES) {
      if (m.kind === 'response') expect([m.file, m.expectedResponse]).toEqual([m.file, null]);
      else expect([m.file, m.expectedResponse]).not.toEqual([m.file, null]);
      if (!m.parser.accepts && 'status' in m.parser) expect([m.file, m.expectedResponse]).toEqual([m.file, m.parser.status]);
    }
  });
});

describe.each(TORTURE_MESSAGES.map((m) => [label(m), m] as const))('%s', (_label, m) => {
  const { parser } = m;
  if (parser.accepts) {
    it('parses to the values RFC 4475 describes', () => {
      parser.check(parseMessage(m.bytes));
    });

    it('keeps them when written out and read back', () => {
      const first = parseMessage(m.bytes);
      const again = parseMessage(first.toBuffer());
      expect(view(again)).toEqual(view(first));
    });
  } else if ('status' in parser) {
    it(`is rejected with ${parser.status}, with what a response needs`, () => {
      const err = rejection(m.bytes);
      expect(err.status).toBe(parser.status);
      // The request line and the headers the answer copies (RFC 3261 §8.2.6.2) are on the error.
      expect(err.partial?.method).toBe(m.bytes.toString('latin1').split(' ')[0]);
      const names = new Set(err.partial!.headers.map((h) => h.name));
      expect(names.has('Via')).toBe(true);
      expect(names.has('CSeq')).toBe(true);
    });
  } else {
    it('is rejected and dropped: nothing to answer', () => {
      const err = rejection(m.bytes);
      expect(err.partial).toBeUndefined();
    });
  }
});

describe('RFC 4475 messages on a stream (TCP, TLS)', () => {
  const frames = (bytes: Buffer): Frame[] => new SipStreamFramer().push(bytes);

  it('waits for the rest of a body shorter than its Content-Length (§3.1.2.2)', () => {
    expect(frames(tortureMessage('clerr').bytes)).toEqual([]);
  });

  it.each(['ncl', 'mcl01'])('closes the connection on %s: its framing error is not recoverable', (file) => {
    const out = frames(tortureMessage(file).bytes);
    expect(out).toHaveLength(1);
    expect(out[0]!.kind).toBe('error');
  });

  it('frames the valid messages with a Content-Length exactly, and they parse as on UDP', () => {
    for (const m of TORTURE_MESSAGES) {
      if (!m.parser.accepts || m.file === 'inv2543.dat' || m.file === 'dblreq.dat') continue; // no Content-Length / extra octets
      const out = frames(m.bytes);
      expect(out.map((f) => f.kind)).toEqual(['message']);
      const bytes = (out[0] as { bytes: Buffer }).bytes;
      expect(bytes.equals(m.bytes)).toBe(true);
      m.parser.check(parseMessage(bytes, { stream: true }));
    }
  });

  it("reads what follows dblreq's REGISTER as the next message, as a stream must", () => {
    const out = frames(tortureMessage('dblreq').bytes);
    expect(out.map((f) => f.kind)).toEqual(['message', 'message', 'message']);
    const [register, invite, rest] = out.map((f) => (f as { bytes: Buffer }).bytes);
    expect(parseMessage(register!, { stream: true })).toMatchObject({ method: 'REGISTER' });
    expect(parseMessage(invite!, { stream: true })).toMatchObject({ method: 'INVITE' });
    // The INVITE's SDP is one octet longer than its Content-Length ("m =video"): that octet
    // starts a "message" of its own, which the parser rejects.
    expect(() => parseMessage(rest!, { stream: true })).toThrow(SipMessageError);
  });
});
