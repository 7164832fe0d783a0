/**
 * The RFC 4475 torture messages in test/fixtures/rfc4475/ (from ../shared/fixtures), one entry per file, with what
 * RFC 4475 §3 says of each: whether it is valid, what a parser must make of it, and how a server
 * answers it when it arrives over UDP.
 * https://www.rfc-editor.org/rfc/rfc4475#section-3
 *
 * `expectedResponse` is the answer of an element in the entry's `role`:
 *   - a number: the status RFC 4475 names for that role (where it offers a choice, the one
 *     Ringside takes — the alternative is in `rfc`);
 *   - `null`: the message is dropped, nothing is sent (malformed or stray responses);
 *   - `PROCESSED`: RFC 4475 names no status — the message is well-formed and is processed as
 *     any other request would be. Whatever the answer then is (200 to an OPTIONS, 401 to an
 *     unauthenticated REGISTER, 404 for an unknown user …), it is an answer, and never a
 *     rejection of the message's syntax (400, 505) or silence.
 * `precondition` says when a status holds only for a request the server would otherwise accept
 * (the REGISTERs that "should succeed" do so once authenticated).
 *
 * The directory holds one file that is not from RFC 4475: `badcseq.dat` (a copy of §3.3.6
 * "invut" whose CSeq is not a number). It has an entry with `section: null`, judged by RFC 3261.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import {
  AbsoluteUri,
  percentDecode,
  SipRequest,
  SipResponse,
  SipUri,
  type AnySipMessage,
  type NameAddr,
  type Uri,
} from '../../src/sip/message/index.ts';
import { ROOT } from './process.ts';

/** A copy of ../shared/fixtures/rfc4475 kept in the repository, so a clone alone can run the tests. */
export const RFC4475_DIR = path.resolve(ROOT, 'test/fixtures/rfc4475');

/** The role in which the server answers: a user agent server (the B2BUA's answering side), a registrar, or a proxy. */
export type Role = 'uas' | 'registrar' | 'proxy' | 'any';

/** RFC 4475 names no status: the request is well-formed and is processed normally. */
export const PROCESSED = 'processed' as const;

/** What `parseMessage(bytes)` (a UDP datagram) must do. */
export type ParserOutcome =
  /** Returns the message; `check` asserts the values RFC 4475's prose describes. */
  | { accepts: true; check: (message: AnySipMessage) => void }
  /** Throws `SipMessageError` with this status, carrying the request's start line and headers (`partial`) so it can be answered. */
  | { accepts: false; status: number }
  /** A malformed response: throws `SipMessageError` without `partial`: there is nothing to answer, the message is dropped. */
  | { accepts: false; drop: true };

export interface TortureMessage {
  /** File name in RFC4475_DIR (RFC 4475 Appendix B names). */
  file: string;
  /** RFC 4475 section, `null` for a file that is not from RFC 4475. */
  section: string | null;
  title: string;
  /** Where RFC 4475 puts it: a well-formed message, or one to be rejected. */
  validity: 'valid' | 'invalid';
  kind: 'request' | 'response';
  parser: ParserOutcome;
  role: Role;
  expectedResponse: number | null | typeof PROCESSED;
  precondition?: string;
  /** What RFC 4475 says the receiving element does (quoted where it names a status). */
  rfc: string;
  bytes: Buffer;
}

// ------------------------------------------------------------------ narrowing helpers

function request(message: AnySipMessage): SipRequest {
  expect(message).toBeInstanceOf(SipRequest);
  return message as SipRequest;
}

function response(message: AnySipMessage): SipResponse {
  expect(message).toBeInstanceOf(SipResponse);
  return message as SipResponse;
}

function sip(uri: Uri): SipUri {
  expect(uri).toBeInstanceOf(SipUri);
  return uri as SipUri;
}

function contacts(message: AnySipMessage): NameAddr[] {
  const list = message.contacts;
  expect(list).not.toBe('*');
  return list as NameAddr[];
}

function params(p: Map<string, string | null>): Record<string, string | null> {
  return Object.fromEntries(p);
}

const SDP_START = 'v=0\r\no=mhandley 29739 7272939 IN IP4 ';

// ------------------------------------------------------------------ the table

type Entry = Omit<TortureMessage, 'bytes'>;

const ENTRIES: Entry[] = [
  // ================================================================ §3.1.1 Valid messages
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.1.1.1
    file: 'wsinv.dat',
    section: '3.1.1.1',
    title: 'A Short Tortuous INVITE',
    validity: 'valid',
    kind: 'request',
    role: 'uas',
    expectedResponse: PROCESSED,
    rfc: 'All elements should treat this as a well-formed request. Unknown header fields are kept as they are (a proxy forwards them unchanged).',
    parser: {
      accepts: true,
      check(m) {
        const r = request(m);
        expect(r.method).toBe('INVITE');
        const uri = sip(r.uri);
        expect([uri.user, uri.host]).toEqual(['vivekg', 'chair-dnrc.example.com']);
        expect(params(uri.params)).toEqual({ unknownparam: null }); // a uri parameter with no value
        // line folding, LWS around ':' and ';', mixed-case and compact names
        expect(r.to.uri.toString()).toBe('sip:vivekg@chair-dnrc.example.com');
        expect(r.to.tag).toBe('1918181833n');
        // "J Rosenberg \\\"" on the wire: escaped backslash, escaped quote
        expect(r.from.displayName).toBe('J Rosenberg \\"');
        expect(r.from.tag).toBe('98asjd8');
        expect(r.from.uri.toString()).toBe('sip:jdrosen@example.com');
        expect(r.maxForwards).toBe(68); // 0068: leading zeros
        expect(r.cseq).toEqual({ seq: 9, method: 'INVITE' }); // 0009, folded before the method
        expect(r.callId).toBe('wsinv.ndaksdj@192.0.2.1');
        // two Via values in one (compact, folded) header line plus one other
        expect(r.headers.filter((h) => h.name === 'Via')).toHaveLength(2);
        expect(r.vias.map((v) => [v.transport, v.host, v.branch])).toEqual([
          ['UDP', '192.0.2.2', '390skdjuw'],
          ['TCP', 'spindle.example.com', 'z9hG4bK9ikj8'],
          ['UDP', '192.168.255.111', 'z9hG4bK30239'],
        ]);
        expect(r.header('Subject')).toBe(''); // "s :" — an empty subject
        expect(r.header('NewFangledHeader')).toBe('newfangled value continued newfangled value');
        expect(r.header('UnknownHeaderWithUnusualValue')).toBe(';;,,;;,;');
        expect(r.routes).toHaveLength(1);
        expect(params(sip(r.routes[0]!.uri).params)).toEqual({ lr: null, unknownwith: 'value', 'unknown-no-value': null });
        const [contact] = contacts(r);
        expect(contact!.displayName).toBe('Quoted string ""');
        expect(params(contact!.params)).toEqual({ newparam: 'newvalue', secondparam: null, q: '0.33' });
        expect(r.contentType).toBe('application/sdp');
        expect(r.body).toHaveLength(150);
        expect(r.body.toString('latin1').startsWith(SDP_START)).toBe(true);
      },
    },
  },
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.1.1.2
    file: 'intmeth.dat',
    section: '3.1.1.2',
    title: 'Wide Range of Valid Characters',
    validity: 'valid',
    kind: 'request',
    role: 'uas',
    expectedResponse: 501,
    rfc: '"If this unusual URI has been defined at a proxy, the proxy will forward this request normally. Otherwise, a proxy will generate a 404. Endpoints will generate a 501 listing the methods they understand in an Allow header field."',
    parser: {
      accepts: true,
      check(m) {
        const r = request(m);
        // % is not an escape in a method: this is not INVITE
        expect(r.method).toBe("!interesting-Method0123456789_*+`.%indeed'~");
        const uri = sip(r.uri);
        expect(uri.user).toBe("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
        expect(uri.password).toBe("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
        expect(uri.host).toBe('example.com');
        expect(r.topVia.branch).toBe("z9hG4bK-.!%66*_+`'~");
        // quoted-pair expansions, including a quoted NUL
        expect(r.to.displayName).toBe('BEL:\x07 NUL:\x00 DEL:\x7f');
        expect(sip(r.to.uri).user).toBe(uri.user);
        // a display name of several tokens, an unknown parameter with a UTF-8 quoted value
        expect(r.from.displayName).toBe("token1~` token2'+_ token3*%!.-");
        expect(r.from.params.get("fromparam''~+*_!.-%")).toBe('работающий');
        expect(r.from.tag).toBe("_token~1'+`*%!-.");
        // word characters: % is no escape, " opens no quoted string, brackets need no partner
        expect(r.callId).toBe("intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
        expect(r.cseq).toEqual({ seq: 139122385, method: r.method });
        expect(r.maxForwards).toBe(255);
        expect(r.header("extensionHeader-!.%*+_`'~")).toBe('\ufeff大停電');
        expect(r.body).toHaveLength(0);
      },
    },
  },
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.1.1.3
    file: 'esc01.dat',
    section: '3.1.1.3',
    title: 'Valid Use of the % Escaping Mechanism',
    validity: 'valid',
    kind: 'request',
    role: 'uas',
    expectedResponse: PROCESSED,
    rfc: 'A parser must accept this as a well-formed message; % HEX HEX is equivalent to the encoded character only where the grammar has "escaped", and is never unescaped twice.',
    parser: {
      accepts: true,
      check(m) {
        const r = request(m);
        const uri = sip(r.uri);
        expect(uri.user).toBe('sips%3Auser%40example.com'); // kept as received
        expect(uri.decodedUser).toBe('sips:user@example.com');
        expect(uri.host).toBe('example.net');
        expect(sip(r.to.uri).decodedUser).toBe('user'); // %75se%72
        expect(sip(r.from.uri).decodedUser).toBe('I have spaces');
        expect(r.from.tag).toBe('938');
        expect(r.callId).toBe('esc01.239409asdfakjkn23onasd0-3234'); // compact i
        expect(r.contentType).toBe('application/sdp'); // compact c
        const [contact] = contacts(r);
        const curi = sip(contact!.uri);
        expect(curi.decodedUser).toBe('caller');
        expect([...curi.params.keys()].map(percentDecode)).toEqual(['lr', 'name']);
        // "value%41", which is NOT equivalent to "valueA": unescaping is never recursive
        expect(percentDecode(curi.param('n%61me')!)).toBe('value%41');
        expect(r.maxForwards).toBe(87);
        expect(r.body).toHaveLength(150);
      },
    },
  },
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.1.1.4
    file: 'escnull.dat',
    section: '3.1.1.4',
    title: 'Escaped Nulls in URIs',
    validity: 'valid',
    kind: 'request',
    role: 'registrar',
    expectedResponse: 200,
    precondition: 'once authenticated: an unauthenticated REGISTER is challenged with 401 first (RFC 3261 §10.3 step 3, §22.1)',
    rfc: 'The message is well formed - parsers must accept this message. The AOR must not be shortened at the escaped null. "This request registers two distinct contact URIs."',
    parser: {
      accepts: true,
      check(m) {
        const r = request(m);
        expect(r.method).toBe('REGISTER');
        expect(sip(r.to.uri).decodedUser).toBe('null-\0-null');
        expect(sip(r.from.uri).decodedUser).toBe('null-\0-null');
        expect(r.from.tag).toBe('839923423');
        expect(contacts(r).map((c) => sip(c.uri).decodedUser)).toEqual(['\0', '\0\0']);
        expect(r.cseq).toEqual({ seq: 14398234, method: 'REGISTER' });
        expect(r.body).toHaveLength(0); // L:0
      },
    },
  },
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.1.1.5
    file: 'esc02.dat',
    section: '3.1.1.5',
    title: 'Use of % When It Is Not an Escape',
    validity: 'valid',
    kind: 'request',
    role: 'uas',
    expectedResponse: 501,
    rfc: 'The request method is unknown — it is NOT equivalent to REGISTER. "A parser should accept this message as well formed. A proxy would forward or reject the message depending on what the Request-URI meant to it. An endpoint would reject this message with a 501."',
    parser: {
      accepts: true,
      check(m) {
        const r = request(m);
        expect(r.method).toBe('RE%47IST%45R');
        expect(r.cseq).toEqual({ seq: 29344, method: 'RE%47IST%45R' });
        expect(r.to.displayName).toBe('%Z%45');
        expect(r.from.displayName).toBe('%Z%45');
        expect(r.topVia.branch).toBe('z9hG4bK209%fzsnel234');
        // two Contact values, not three: C%6Fntact is another header
        expect(contacts(r).map(String)).toEqual(['<sip:alias1@host1.example.com>', '<sip:alias3@host3.example.com>']);
        expect(r.header('C%6Fntact')).toBe('<sip:alias2@host2.example.com>');
      },
    },
  },
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.1.1.6
    file: 'lwsdisp.dat',
    section: '3.1.1.6',
    title: 'Message with No LWS between Display Name and <',
    validity: 'valid',
    kind: 'request',
    role: 'uas',
    expectedResponse: PROCESSED,
    rfc: 'Not valid per the RFC 3261 grammar, a bug in it: "Elements should accept this request as well formed."',
    parser: {
      accepts: true,
      check(m) {
        const r = request(m);
        expect(r.method).toBe('OPTIONS');
        expect(r.from.displayName).toBe('caller');
        expect(r.from.uri.toString()).toBe('sip:caller@example.com');
        expect(r.from.tag).toBe('323');
      },
    },
  },
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.1.1.7
    file: 'longreq.dat',
    section: '3.1.1.7',
    title: 'Long Values in Header Fields',
    validity: 'valid',
    kind: 'request',
    role: 'uas',
    expectedResponse: PROCESSED,
    rfc: 'A well-formed request with header fields of many values and very long values.',
    parser: {
      accepts: true,
      check(m) {
        const r = request(m);
        expect(r.to.displayName).toBe(`I have a user name of ${'extreme'.repeat(10)} proportion`);
        const to = sip(r.to.uri);
        expect(to.port).toBe(6000);
        expect(params(to.params)).toEqual({
          unknownparam1: `very${'long'.repeat(20)}value`,
          [`longparam${'name'.repeat(25)}`]: 'shortvalue',
          [`very${'long'.repeat(25)}parameternamewithnovalue`]: null,
        });
        expect(sip(r.from.uri).user).toBe('amazinglylongcallername'.repeat(5));
        expect(r.from.tag).toBe(`1${'298'.repeat(50)}2424`);
        expect(r.from.params.get(`unknownheaderparam${'name'.repeat(20)}`)).toBe(`unknowheaderparam${'value'.repeat(15)}`);
        expect(r.from.params.get(`unknownvalueless${'paramname'.repeat(10)}`)).toBeNull();
        expect(r.callId).toBe(`longreq.one${'really'.repeat(20)}longcallid`);
        expect(r.header(`Unknown-${'Long'.repeat(20)}-Name`)).toBe(
          `unknown-${'long'.repeat(20)}-value; unknown-${'long'.repeat(20)}-parameter-name = unknown-${'long'.repeat(20)}-parameter-value`,
        );
        // 34 Vias under every spelling of the name, sip33 … sip1 then host
        expect(r.vias).toHaveLength(34);
        expect(r.vias.slice(0, 33).map((v) => v.host)).toEqual(Array.from({ length: 33 }, (_, i) => `sip${33 - i}.example.com`));
        const last = r.vias[33]!;
        expect(last.host).toBe('host.example.com');
        expect(last.params.get('received')).toBe('192.0.2.5');
        expect(last.branch).toBe(`verylong${'long'.repeat(49)}branchvalue`);
        expect(r.maxForwards).toBe(70);
        expect(r.body).toHaveLength(150); // compact l
      },
    },
  },
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.1.1.8
    file: 'dblreq.dat',
    section: '3.1.1.8',
    title: 'Extra Trailing Octets in a UDP Datagram',
    validity: 'valid',
    kind: 'request',
    role: 'registrar',
    expectedResponse: PROCESSED,
    rfc: 'The octets after the zero-length body look like an INVITE but (RFC 3261 §18.3) are noise that must be ignored: "A SIP element receiving this datagram would handle the REGISTER request normally and ignore the extra bits that look like an INVITE request."',
    parser: {
      accepts: true,
      check(m) {
        const r = request(m);
        expect(r.method).toBe('REGISTER');
        expect(r.callId).toBe('dblreq.0ha0isndaksdj99sdfafnl3lk233412'); // compact I
        expect(r.headerValues('To')).toEqual(['sip:j.user@example.com']);
        expect(contacts(r).map((c) => c.uri.toString())).toEqual(['sip:j.user@host.example.com']);
        expect(r.maxForwards).toBe(8);
        expect(r.body).toHaveLength(0);
        expect(r.toString()).not.toContain('INVITE');
      },
    },
  },
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.1.1.9
    file: 'semiuri.dat',
    section: '3.1.1.9',
    title: 'Semicolon-Separated Parameters in URI User Part',
    validity: 'valid',
    kind: 'request',
    role: 'uas',
    expectedResponse: PROCESSED,
    rfc: 'Receiving elements will accept this as a well-formed message. The Request-URI parses so that the user part is "user;par=u@example.net".',
    parser: {
      accepts: true,
      check(m) {
        const r = request(m);
        const uri = sip(r.uri);
        expect(uri.decodedUser).toBe('user;par=u@example.net');
        expect(uri.host).toBe('example.com');
        expect(uri.params.size).toBe(0);
        // a folded, comma-separated Accept
        expect(r.headerValues('Accept')).toEqual([
          'application/sdp', 'application/pkcs7-mime', 'multipart/mixed', 'multipart/signed', 'message/sip', 'message/sipfrag',
        ]);
      },
    },
  },
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.1.1.10
    file: 'transports.dat',
    section: '3.1.1.10',
    title: 'Varied and Unknown Transport Types',
    validity: 'valid',
    kind: 'request',
    role: 'uas',
    expectedResponse: PROCESSED,
    rfc: 'Parsers must accept this message as well formed; elements process it as if the 2nd and later Via values named UDP (or another transport).',
    parser: {
      accepts: true,
      check(m) {
        const r = request(m);
        expect(r.vias.map((v) => `${v.transport} ${v.host}`)).toEqual([
          'UDP t1.example.com', 'SCTP t2.example.com', 'TLS t3.example.com', 'UNKNOWN t4.example.com', 'TCP t5.example.com',
        ]);
        expect(r.callId).toBe('transports.kijh4akdnaqjkwendsasfdj');
      },
    },
  },
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.1.1.11
    file: 'mpart01.dat',
    section: '3.1.1.11',
    title: 'Multipart MIME Message',
    validity: 'valid',
    kind: 'request',
    role: 'uas',
    expectedResponse: PROCESSED,
    rfc: 'Two body parts, the second binary with NUL octets: receivers must frame it properly. "Parsers must accept this message as well formed, even if the application above the parser does not support multipart/signed."',
    parser: {
      accepts: true,
      check(m) {
        const r = request(m);
        expect(r.method).toBe('MESSAGE');
        expect(r.header('Content-Type')).toBe('multipart/mixed;boundary=7a9cbec02ceef655');
        expect(r.body).toHaveLength(553);
        expect(r.body.includes(0)).toBe(true);
        expect(r.body.toString('latin1').startsWith('--7a9cbec02ceef655\r\n')).toBe(true);
        expect(r.body.toString('latin1').endsWith('--7a9cbec02ceef655--\r\n')).toBe(true);
        expect([r.topVia.port, params(r.topVia.params)]).toEqual([5070, { branch: 'z9hG4bK-d87543-4dade06d0bdb11ee-1--d87543-', rport: null }]);
        expect(r.header('Date')).toBe('Sat, 15 Oct 2005 04:44:56 GMT');
      },
    },
  },
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.1.1.12
    file: 'unreason.dat',
    section: '3.1.1.12',
    title: 'Unusual Reason Phrase',
    validity: 'valid',
    kind: 'response',
    role: 'any',
    expectedResponse: null,
    rfc: 'A well-formed 200 with unreserved and non-ASCII UTF-8 in its reason phrase: a parser must accept it. It answers no request of ours (RFC 3261 §18.1.2: a response whose top Via is not ours is discarded), so nothing is sent.',
    parser: {
      accepts: true,
      check(m) {
        const r = response(m);
        expect(r.status).toBe(200);
        expect(r.reason).toBe('= 2**3 * 5**2 но сто девяносто девять - простое');
        expect(r.to.tag).toBe('2229');
        expect(r.body).toHaveLength(154);
      },
    },
  },
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.1.1.13
    file: 'noreason.dat',
    section: '3.1.1.13',
    title: 'Empty Reason Phrase',
    validity: 'valid',
    kind: 'response',
    role: 'any',
    expectedResponse: null,
    rfc: 'A well-formed response with no reason phrase (the SP after the code is present): a parser must accept it. A stray response is discarded (RFC 3261 §18.1.2).',
    parser: {
      accepts: true,
      check(m) {
        const r = response(m);
        expect(r.status).toBe(100);
        expect(r.reason).toBe('');
        expect(r.to.tag).toBe('902jndnke3');
        expect(r.cseq).toEqual({ seq: 35, method: 'INVITE' });
      },
    },
  },

  // ================================================================ §3.1.2 Invalid messages
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.1.2.1
    file: 'badinv01.dat',
    section: '3.1.2.1',
    title: 'Extraneous Header Field Separators',
    validity: 'invalid',
    kind: 'request',
    role: 'uas',
    expectedResponse: 400,
    rfc: 'Semicolons and commas without parameters or values in Via and Contact. "An element receiving this request should respond with a 400 Bad Request error."',
    parser: { accepts: false, status: 400 },
  },
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.1.2.2
    file: 'clerr.dat',
    section: '3.1.2.2',
    title: 'Content Length Larger Than Message',
    validity: 'invalid',
    kind: 'request',
    role: 'uas',
    expectedResponse: 400,
    rfc: '"When sent over UDP (as this message ostensibly was), the receiving element should respond with a 400 Bad Request error." Over a stream it waits for more data.',
    parser: { accepts: false, status: 400 },
  },
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.1.2.3
    file: 'ncl.dat',
    section: '3.1.2.3',
    title: 'Negative Content-Length',
    validity: 'invalid',
    kind: 'request',
    role: 'uas',
    expectedResponse: 400,
    rfc: '"An element receiving this message should respond with an error." Over UDP the rest of the datagram is discarded; over TCP the connection is closed.',
    parser: { accepts: false, status: 400 },
  },
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.1.2.4
    file: 'scalar02.dat',
    section: '3.1.2.4',
    title: 'Request Scalar Fields with Overlarge Values',
    validity: 'invalid',
    kind: 'request',
    role: 'registrar',
    expectedResponse: 400,
    rfc: '"An element receiving this request should respond with a 400 Bad Request due to the CSeq error."',
    parser: { accepts: false, status: 400 },
  },
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.1.2.5
    file: 'scalarlg.dat',
    section: '3.1.2.5',
    title: 'Response Scalar Fields with Overlarge Values',
    validity: 'invalid',
    kind: 'response',
    role: 'any',
    expectedResponse: null,
    rfc: '"An element receiving this response will simply discard it."',
    parser: { accepts: false, drop: true },
  },
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.1.2.6
    file: 'quotbal.dat',
    section: '3.1.2.6',
    title: 'Unterminated Quoted String in Display Name',
    validity: 'invalid',
    kind: 'request',
    role: 'uas',
    expectedResponse: 400,
    rfc: '"An element receiving this request should return a 400 Bad Request error."',
    parser: { accepts: false, status: 400 },
  },
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.1.2.7
    file: 'ltgtruri.dat',
    section: '3.1.2.7',
    title: '<> Enclosing Request-URI',
    validity: 'invalid',
    kind: 'request',
    role: 'uas',
    expectedResponse: 400,
    rfc: '"It is reasonable always to reject a request with this error with a 400 Bad Request."',
    parser: { accepts: false, status: 400 },
  },
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.1.2.8
    file: 'lwsruri.dat',
    section: '3.1.2.8',
    title: 'Malformed SIP Request-URI (embedded LWS)',
    validity: 'invalid',
    kind: 'request',
    role: 'uas',
    expectedResponse: 400,
    rfc: '"An element receiving this request should respond with a 400 Bad Request."',
    parser: { accepts: false, status: 400 },
  },
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.1.2.9
    file: 'lwsstart.dat',
    section: '3.1.2.9',
    title: 'Multiple SP Separating Request-Line Elements',
    validity: 'invalid',
    kind: 'request',
    role: 'uas',
    expectedResponse: 400,
    rfc: '"It is acceptable to reject this request as malformed." (A liberal element may ignore the extra SP.) Ringside rejects it.',
    parser: { accepts: false, status: 400 },
  },
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.1.2.10
    file: 'trws.dat',
    section: '3.1.2.10',
    title: 'SP Characters at End of Request-Line',
    validity: 'invalid',
    kind: 'request',
    role: 'uas',
    expectedResponse: 400,
    rfc: '"It is acceptable to reject this request as malformed." (A liberal element may ignore the extra SP.) Ringside rejects it.',
    parser: { accepts: false, status: 400 },
  },
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.1.2.11
    file: 'escruri.dat',
    section: '3.1.2.11',
    title: 'Escaped Headers in SIP Request-URI',
    validity: 'invalid',
    kind: 'request',
    role: 'uas',
    expectedResponse: 400,
    rfc: '"It is acceptable for an element to reject this request with a 400 Bad Request." (A liberal element ignores the headers and must not forward them.) Ringside rejects it.',
    parser: { accepts: false, status: 400 },
  },
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.1.2.12
    file: 'baddate.dat',
    section: '3.1.2.12',
    title: 'Invalid Time Zone in Date Header Field',
    validity: 'invalid',
    kind: 'request',
    role: 'uas',
    expectedResponse: PROCESSED,
    rfc: '"It is acceptable to reject this request as malformed (though an element shouldn\'t do that unless the contents of the Date header field were actually important to its processing)." Ringside does not use Date, so it processes the request.',
    parser: {
      accepts: true,
      check(m) {
        const r = request(m);
        expect(r.header('Date')).toBe('Fri, 01 Jan 2010 16:00:00 EST'); // kept as received, unread
        expect(r.body).toHaveLength(150);
      },
    },
  },
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.1.2.13
    file: 'regbadct.dat',
    section: '3.1.2.13',
    title: 'Failure to Enclose name-addr URI in <>',
    validity: 'invalid',
    kind: 'request',
    role: 'registrar',
    expectedResponse: 400,
    rfc: 'A Contact URI with an escaped header must be in name-addr form. "It is reasonable for an element receiving this request to respond with a 400 Bad Request."',
    parser: { accepts: false, status: 400 },
  },
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.1.2.14
    file: 'badaspec.dat',
    section: '3.1.2.14',
    title: 'Spaces within addr-spec',
    validity: 'invalid',
    kind: 'request',
    role: 'uas',
    expectedResponse: 400,
    rfc: '"Parsers receiving this request must not break. It is reasonable to reject this request with a 400 Bad Request response."',
    parser: { accepts: false, status: 400 },
  },
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.1.2.15
    file: 'baddn.dat',
    section: '3.1.2.15',
    title: 'Non-token Characters in Display Name',
    validity: 'invalid',
    kind: 'request',
    role: 'uas',
    expectedResponse: 400,
    rfc: '"It is reasonable always to reject this kind of error with a 400 Bad Request response."',
    parser: { accepts: false, status: 400 },
  },
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.1.2.16
    file: 'badvers.dat',
    section: '3.1.2.16',
    title: 'Unknown Protocol Version',
    validity: 'invalid',
    kind: 'request',
    role: 'uas',
    expectedResponse: 505,
    rfc: '"The element should respond to the request with a 505 Version Not Supported error."',
    parser: { accepts: false, status: 505 },
  },
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.1.2.17
    file: 'mismatch01.dat',
    section: '3.1.2.17',
    title: 'Start Line and CSeq Method Mismatch',
    validity: 'invalid',
    kind: 'request',
    role: 'uas',
    expectedResponse: 400,
    rfc: '"Any element receiving this request will respond with a 400 Bad Request."',
    parser: { accepts: false, status: 400 },
  },
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.1.2.18
    file: 'mismatch02.dat',
    section: '3.1.2.18',
    title: 'Unknown Method with CSeq Method Mismatch',
    validity: 'invalid',
    kind: 'request',
    role: 'uas',
    expectedResponse: 501,
    rfc: '"Any element receiving this response should respond with a 501 Not Implemented. A 400 Bad Request is also acceptable, but choosing a 501 (particularly at proxies) has better future-proof characteristics."',
    parser: { accepts: false, status: 501 },
  },
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.1.2.19
    file: 'bigcode.dat',
    section: '3.1.2.19',
    title: 'Overlarge Response Code',
    validity: 'invalid',
    kind: 'response',
    role: 'any',
    expectedResponse: null,
    rfc: '"An element receiving this response should simply drop it."',
    parser: { accepts: false, drop: true },
  },

  // ================================================================ §3.2 Transaction layer semantics
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.2.1
    file: 'badbranch.dat',
    section: '3.2.1',
    title: 'Missing Transaction Identifier',
    validity: 'valid',
    kind: 'request',
    role: 'uas',
    expectedResponse: 400,
    rfc: 'The branch is the bare magic cookie "z9hG4bK". "A parser must not break when receiving this message. An element receiving this request could reject the request with a 400 Response (preferably statelessly, as other requests from the source are likely also to have a malformed branch parameter), or it could fall back to the RFC 2543-style transaction identifier." Ringside takes the 400.',
    parser: {
      accepts: true,
      check(m) {
        const r = request(m);
        expect(r.topVia.branch).toBe('z9hG4bK');
        expect(r.cseq).toEqual({ seq: 8, method: 'OPTIONS' });
      },
    },
  },

  // ================================================================ §3.3 Application-layer semantics
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.3.1
    file: 'insuf.dat',
    section: '3.3.1',
    title: 'Missing Required Header Fields',
    validity: 'invalid',
    kind: 'request',
    role: 'uas',
    expectedResponse: 400,
    rfc: 'No Call-ID, From or To: "An element receiving this message must not break because of the missing information. Ideally, it will respond with a 400 Bad Request error."',
    parser: { accepts: false, status: 400 },
  },
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.3.2
    file: 'unkscm.dat',
    section: '3.3.2',
    title: 'Request-URI with Unknown Scheme',
    validity: 'valid',
    kind: 'request',
    role: 'uas',
    expectedResponse: 416,
    rfc: '"A parser must accept this as a well-formed SIP request. An element receiving this request will reject it with a 416 Unsupported URI Scheme response." The To header field carries no routing information.',
    parser: {
      accepts: true,
      check(m) {
        const r = request(m);
        expect(r.uri).toBeInstanceOf(AbsoluteUri);
        // URI schemes are case-insensitive (RFC 3986 §3.1): kept in lower case
        expect(r.uri.scheme).toBe('nobodyknowsthisscheme');
        expect((r.uri as AbsoluteUri).rest).toBe('totallyopaquecontent');
        expect(r.to.uri.toString()).toBe('sip:user@example.com');
      },
    },
  },
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.3.3
    file: 'novelsc.dat',
    section: '3.3.3',
    title: 'Request-URI with Known but Atypical Scheme',
    validity: 'valid',
    kind: 'request',
    role: 'uas',
    expectedResponse: 416,
    rfc: '"If an element will never accept this scheme as meaningful in a Request-URI, it is appropriate to treat it as unknown and return a 416 Unsupported URI Scheme response." (404 if it accepts some URIs of the scheme.) Ringside never routes soap.beep.',
    parser: {
      accepts: true,
      check(m) {
        const r = request(m);
        expect(r.uri).toBeInstanceOf(AbsoluteUri);
        expect(r.uri.toString()).toBe('soap.beep://192.0.2.103:3002');
      },
    },
  },
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.3.4
    file: 'unksm2.dat',
    section: '3.3.4',
    title: 'Unknown URI Schemes in Header Fields',
    validity: 'valid',
    kind: 'request',
    role: 'registrar',
    expectedResponse: 400,
    rfc: 'Syntactically valid; parsers must not fail. Proxies treat it as any other request for the URI. "A registrar would reject this request with a 400 Bad Request response, since the To: header field is required to contain a SIP or SIPS URI as an AOR."',
    parser: {
      accepts: true,
      check(m) {
        const r = request(m);
        expect(r.method).toBe('REGISTER');
        expect([r.to.uri.scheme, r.to.uri.toString()]).toEqual(['isbn', 'isbn:2983792873']);
        expect(r.from.uri.toString()).toBe('http://www.example.com');
        expect(r.from.tag).toBe('3234233');
        expect(contacts(r).map((c) => c.uri.toString())).toEqual(['name:John_Smith']);
      },
    },
  },
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.3.5
    file: 'bext01.dat',
    section: '3.3.5',
    title: 'Proxy-Require and Require',
    validity: 'valid',
    kind: 'request',
    role: 'uas',
    expectedResponse: 420,
    rfc: '"Any element receiving this request will respond with a 420 Bad Extension response, containing an Unsupported header field listing these features from either the Require or Proxy-Require header field, depending on the role in which the element is responding." (As a UAS: the Require features.)',
    parser: {
      accepts: true,
      check(m) {
        const r = request(m);
        expect(r.headerValues('Require')).toEqual(['nothingSupportsThis', 'nothingSupportsThisEither']);
        expect(r.headerValues('Proxy-Require')).toEqual(['noProxiesSupportThis', 'norDoAnyProxiesSupportThis']);
        expect(r.topVia.transport).toBe('TLS');
      },
    },
  },
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.3.6
    file: 'invut.dat',
    section: '3.3.6',
    title: 'Unknown Content-Type',
    validity: 'valid',
    kind: 'request',
    role: 'uas',
    expectedResponse: 415,
    rfc: 'Syntactically valid; a parser must not fail. A proxy processes it as any other INVITE; "An endpoint receiving this request would reject it with a 415 Unsupported Media Type error."',
    parser: {
      accepts: true,
      check(m) {
        const r = request(m);
        expect(r.contentType).toBe('application/unknownformat');
        expect(r.body.toString('latin1')).toBe('<audio>\r\n <pcmu port="443"/>\r\n</audio>\r\n');
      },
    },
  },
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.3.7
    file: 'regaut01.dat',
    section: '3.3.7',
    title: 'Unknown Authorization Scheme',
    validity: 'valid',
    kind: 'request',
    role: 'registrar',
    expectedResponse: 401,
    rfc: 'Well formed; a parser must not fail. A registrar that cares about challenge-response authentication "will reject this request with a 401, issuing a new challenge with a scheme it understands" (one that does not would ignore the field; an endpoint answers 405). Ringside\'s registrar authenticates.',
    parser: {
      accepts: true,
      check(m) {
        const r = request(m);
        expect(r.header('Authorization')).toBe('NoOneKnowsThisScheme opaque-data=here');
        expect(r.body).toHaveLength(0); // "Content-Length:0"
      },
    },
  },
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.3.8
    file: 'multi01.dat',
    section: '3.3.8',
    title: 'Multiple Values in Single Value Required Fields',
    validity: 'invalid',
    kind: 'request',
    role: 'uas',
    expectedResponse: 400,
    rfc: 'Multiple Call-ID, To, From, Max-Forwards and CSeq values: an element must not break, and "would respond with a 400 Bad Request error."',
    parser: { accepts: false, status: 400 },
  },
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.3.9
    file: 'mcl01.dat',
    section: '3.3.9',
    title: 'Multiple Content-Length Values',
    validity: 'invalid',
    kind: 'request',
    role: 'uas',
    expectedResponse: 400,
    rfc: 'Conflicting Content-Length values frame the message no better than an invalid one: the element responds with an error and, over UDP, discards the rest of the datagram (over TCP it closes the connection).',
    parser: { accepts: false, status: 400 },
  },
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.3.10
    file: 'bcast.dat',
    section: '3.3.10',
    title: '200 OK Response with Broadcast Via Header Field Value',
    validity: 'valid',
    kind: 'response',
    role: 'any',
    expectedResponse: null,
    rfc: 'Well formed; parsers must not fail. An endpoint "should simply discard it"; a proxy following response processing blindly would send it to the broadcast address, so proxies should drop such responses.',
    parser: {
      accepts: true,
      check(m) {
        const r = response(m);
        expect(r.status).toBe(200);
        expect(r.vias.map((v) => v.host)).toEqual(['192.0.2.198', '255.255.255.255']);
      },
    },
  },
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.3.11
    file: 'zeromf.dat',
    section: '3.3.11',
    title: 'Max-Forwards of Zero',
    validity: 'valid',
    kind: 'request',
    role: 'proxy',
    expectedResponse: 483,
    rfc: 'A legal request with Max-Forwards 0. "A proxy should not forward the request and should respond 483 (Too Many Hops). An endpoint should process the request as if the Max-Forwards field value were still positive." (RFC 3261 §16.3 item 2 also lets a proxy answer an OPTIONS itself.)',
    parser: {
      accepts: true,
      check(m) {
        const r = request(m);
        expect(r.method).toBe('OPTIONS');
        expect(r.maxForwards).toBe(0);
      },
    },
  },
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.3.12
    file: 'cparam01.dat',
    section: '3.3.12',
    title: 'REGISTER with a Contact Header Parameter',
    validity: 'valid',
    kind: 'request',
    role: 'registrar',
    expectedResponse: 200,
    precondition: 'once authenticated: an unauthenticated REGISTER is challenged with 401 first (RFC 3261 §10.3 step 3, §22.1)',
    rfc: '"unknownparam" must be interpreted as a contact-param and not a url-param. "This REGISTER should succeed." Neither the response nor later fetches show "unknownparam" as a url-parameter of the binding.',
    parser: {
      accepts: true,
      check(m) {
        const r = request(m);
        const [contact] = contacts(r);
        expect(contact!.uri.toString()).toBe('sip:+19725552222@gw1.example.net');
        expect(sip(contact!.uri).params.size).toBe(0);
        expect(params(contact!.params)).toEqual({ unknownparam: null });
      },
    },
  },
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.3.13
    file: 'cparam02.dat',
    section: '3.3.13',
    title: 'REGISTER with a url-parameter',
    validity: 'valid',
    kind: 'request',
    role: 'registrar',
    expectedResponse: 200,
    precondition: 'once authenticated: an unauthenticated REGISTER is challenged with 401 first (RFC 3261 §10.3 step 3, §22.1)',
    rfc: 'The Contact URI has an unknown url-parameter. The REGISTER should succeed, and later fetches of the binding include "unknownparam" as a url-parameter.',
    parser: {
      accepts: true,
      check(m) {
        const r = request(m);
        const [contact] = contacts(r);
        expect(params(sip(contact!.uri).params)).toEqual({ unknownparam: null });
        expect(contact!.params.size).toBe(0);
      },
    },
  },
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.3.14
    file: 'regescrt.dat',
    section: '3.3.14',
    title: 'REGISTER with a URL Escaped Header',
    validity: 'valid',
    kind: 'request',
    role: 'registrar',
    expectedResponse: 200,
    precondition: 'once authenticated: an unauthenticated REGISTER is challenged with 401 first (RFC 3261 §10.3 step 3, §22.1)',
    rfc: 'The Contact URI (in <>, compact "M") carries an escaped header. "The register should succeed, and a subsequent retrieval of the registration must include the escaped Route header in the contact URI for this binding."',
    parser: {
      accepts: true,
      check(m) {
        const r = request(m);
        const [contact] = contacts(r);
        const uri = sip(contact!.uri);
        expect(uri.headers.get('Route')).toBe('%3Csip:sip.example.com%3E');
        expect(percentDecode(uri.headers.get('Route')!)).toBe('<sip:sip.example.com>');
        expect(r.body).toHaveLength(0); // "L:0"
      },
    },
  },
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.3.15
    file: 'sdp01.dat',
    section: '3.3.15',
    title: 'Unacceptable Accept Offering',
    validity: 'valid',
    kind: 'request',
    role: 'uas',
    expectedResponse: 406,
    rfc: 'The Accept header field does not contain application/sdp, so the response may not contain an SDP body: "The recipient of this request could respond with a 406 Not Acceptable", with a Warning/399 saying why; a 400 is also appropriate, since every UA supporting INVITE must support application/sdp. Ringside answers 406.',
    parser: {
      accepts: true,
      check(m) {
        const r = request(m);
        expect(r.headerValues('Accept')).toEqual(['text/nobodyKnowsThis']);
        expect(r.contentType).toBe('application/sdp');
        expect(r.body).toHaveLength(150);
      },
    },
  },

  // ================================================================ §3.4 Backward compatibility
  {
    // https://www.rfc-editor.org/rfc/rfc4475#section-3.4.1
    file: 'inv2543.dat',
    section: '3.4.1',
    title: 'INVITE with RFC 2543 Syntax',
    validity: 'valid',
    kind: 'request',
    role: 'uas',
    expectedResponse: PROCESSED,
    rfc: '"This is a legal message per RFC 2543 (and several bis versions) that should be accepted by RFC 3261 elements that want to maintain backwards compatibility": no Via branch, no From tag, no Content-Length (the body is the rest of the datagram), no Max-Forwards.',
    parser: {
      accepts: true,
      check(m) {
        const r = request(m);
        expect(r.topVia.branch).toBeUndefined();
        expect(r.from.tag).toBeUndefined();
        expect(r.hasHeader('Content-Length')).toBe(false);
        expect(r.maxForwards).toBeUndefined();
        expect(r.body.toString('latin1')).toBe(
          'v=0\r\no=mhandley 29739 7272939 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\nm=audio 49217 RTP/AVP 0\r\n',
        );
        // in an addr-spec, ";user=phone" is a header parameter, not a URI parameter (RFC 3261 §20)
        expect(r.to.uri.toString()).toBe('sip:+16505552222@ss1.example.net');
        expect(params(r.to.params)).toEqual({ user: 'phone' });
        expect(sip(r.from.uri).param('user')).toBe('phone');
      },
    },
  },

  // ================================================================ not from RFC 4475
  {
    // Not in RFC 4475: §3.3.6 "invut" with `CSeq: fhdjkgfhdkjhgkj`. CSeq = 1*DIGIT LWS Method
    // (https://www.rfc-editor.org/rfc/rfc3261#section-20.16), so it is malformed: 400.
    file: 'badcseq.dat',
    section: null,
    title: 'Non-numeric CSeq (not part of RFC 4475)',
    validity: 'invalid',
    kind: 'request',
    role: 'uas',
    expectedResponse: 400,
    rfc: 'Not an RFC 4475 message. A CSeq without a sequence number is malformed (RFC 3261 §20.16, §25.1): 400 Bad Request.',
    parser: { accepts: false, status: 400 },
  },
];

/** Every file of RFC4475_DIR with what RFC 4475 says of it, in RFC 4475's order. */
export const TORTURE_MESSAGES: readonly TortureMessage[] = ENTRIES.map((entry) => ({
  ...entry,
  bytes: readFileSync(path.join(RFC4475_DIR, entry.file)),
}));

export function tortureMessage(file: string): TortureMessage {
  const found = TORTURE_MESSAGES.find((m) => m.file === file || m.file === `${file}.dat`);
  if (!found) throw new Error(`no RFC 4475 message ${file}`);
  return found;
}
