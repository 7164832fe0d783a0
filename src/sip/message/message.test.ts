import { describe, expect, it } from 'vitest';
import {
  AbsoluteUri,
  canonicalHeaderName,
  createResponse,
  formatParams,
  parseCSeq,
  parseInteger,
  parseMessage,
  parseNameAddr,
  parseParams,
  parseUri,
  parseVia,
  quote,
  SipMessageError,
  SipParseError,
  SipRequest,
  SipUri,
  splitTopLevel,
  type AnySipMessage,
} from './index.ts';

/** A datagram from lines joined with CRLF, ending with the blank line. */
function datagram(...lines: string[]): Buffer {
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8');
}

const OPTIONS_HEADERS = [
  'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc',
  'To: <sip:bob@example.com>',
  'From: "Alice" <sip:alice@example.com>;tag=a1',
  'Call-ID: c1@192.0.2.1',
  'CSeq: 1 OPTIONS',
  'Max-Forwards: 70',
];

function request(message: AnySipMessage): SipRequest {
  if (!(message instanceof SipRequest)) throw new Error('not a request');
  return message;
}

function rejection(bytes: Buffer): SipMessageError {
  try {
    parseMessage(bytes);
  } catch (err) {
    if (err instanceof SipMessageError) return err;
    throw err;
  }
  throw new Error('accepted');
}

describe('compact header names (RFC 3261 §7.3.3)', () => {
  it.each([
    ['i', 'Call-ID'], ['m', 'Contact'], ['e', 'Content-Encoding'], ['l', 'Content-Length'], ['c', 'Content-Type'],
    ['f', 'From'], ['s', 'Subject'], ['k', 'Supported'], ['t', 'To'], ['v', 'Via'], ['o', 'Event'], ['r', 'Refer-To'],
    ['b', 'Referred-By'], ['u', 'Allow-Events'], ['x', 'Session-Expires'], ['y', 'Identity'],
  ])('%s is %s', (compact, long) => {
    expect(canonicalHeaderName(compact)).toBe(long);
    expect(canonicalHeaderName(compact.toUpperCase())).toBe(long);
  });

  it('spells known names canonically whatever their case, and keeps unknown ones as written', () => {
    expect(canonicalHeaderName('cAlL-iD')).toBe('Call-ID');
    expect(canonicalHeaderName('www-authenticate')).toBe('WWW-Authenticate');
    expect(canonicalHeaderName('X-Custom-Thing')).toBe('X-Custom-Thing');
    // one letter without a compact meaning is just a name
    expect(canonicalHeaderName('q')).toBe('q');
  });

  it('reads a message written entirely in compact forms as the long one', () => {
    const m = request(
      parseMessage(Buffer.concat([
        datagram(
          'INVITE sip:bob@example.com SIP/2.0',
          'v: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1',
          't: <sip:bob@example.com>',
          'f: <sip:alice@example.com>;tag=9',
          'i: abc@host',
          'CSeq: 3 INVITE',
          'm: <sip:alice@192.0.2.1>',
          'c: text/plain',
          'l: 2',
        ),
        Buffer.from('hi'),
      ])),
    );
    expect(m.callId).toBe('abc@host');
    expect(m.to.uri.toString()).toBe('sip:bob@example.com');
    expect(m.from.tag).toBe('9');
    expect(m.contentType).toBe('text/plain');
    expect(m.body.toString()).toBe('hi');
    // written back in long form
    expect(m.toString()).toMatch(/^Via: .*\r\nTo: .*\r\nFrom: .*\r\nCall-ID: abc@host\r\n/m);
  });
});

describe('SIP URIs', () => {
  it('reads every part, and writes them back', () => {
    const uri = parseUri('sips:alice:secret@Example.COM:5061;transport=tcp;lr;maddr=192.0.2.9?Subject=hi&Priority=urgent');
    expect(uri).toBeInstanceOf(SipUri);
    const sip = uri as SipUri;
    expect([sip.scheme, sip.user, sip.password, sip.host, sip.port]).toEqual(['sips', 'alice', 'secret', 'Example.COM', 5061]);
    expect([...sip.params]).toEqual([['transport', 'tcp'], ['lr', null], ['maddr', '192.0.2.9']]);
    expect([...sip.headers]).toEqual([['Subject', 'hi'], ['Priority', 'urgent']]);
    expect(sip.hostname).toBe('example.com');
    expect(sip.toString()).toBe('sips:alice:secret@Example.COM:5061;transport=tcp;lr;maddr=192.0.2.9?Subject=hi&Priority=urgent');
  });

  it.each([
    ['sip:[2001:db8::10]', '2001:db8::10', undefined],
    ['sip:alice@[2001:db8::10]:5070', '2001:db8::10', 5070],
    ['sip:[::ffff:192.0.2.1];transport=udp', '::ffff:192.0.2.1', undefined],
    ['sip:[2001:DB8::A]', '2001:db8::a', undefined],
  ])('takes the IPv6 reference in %s (RFC 5118)', (text, hostname, port) => {
    const uri = parseUri(text) as SipUri;
    expect(uri.hostname).toBe(hostname);
    expect(uri.port).toBe(port);
    expect(uri.toString()).toBe(text);
  });

  it.each([
    'sip:2001:db8::10', // RFC 5118 §4.2: an IPv6 address without its brackets
    'sip:[2001:db8::10', // unterminated reference
    'sip:[2001:db8::10]5060', // junk after the reference
    'sip:alice@example.com:99999', // port out of range
    'sip:alice@example.com:', // no port after the colon
    'sip:alice@exa mple.com', // space
    'sip:al<ice@example.com',
    'sip:alice@-example.com', // a label cannot start with a hyphen
    'sip:',
    ':nothing',
  ])('rejects %j', (text) => {
    expect(() => parseUri(text)).toThrow(SipParseError);
  });

  it('keeps escaped user parts as received and decodes them on request, never twice', () => {
    const uri = parseUri('sip:%61lice%2540@example.com') as SipUri;
    expect(uri.user).toBe('%61lice%2540');
    expect(uri.decodedUser).toBe('alice%40');
    expect(uri.aor).toBe('sip:alice%40@example.com');
  });

  it('writes parameters and headers as escaped text, never as quoted strings', () => {
    const uri = parseUri('sip:a@example.com;x=/a:b;%6C%72;y=(1)?h=%3Cx%3E') as SipUri;
    expect(uri.toString()).toBe('sip:a@example.com;x=/a:b;%6c%72;y=(1)?h=%3Cx%3E');
    // a value set by code is percent-encoded where the grammar wants it
    uri.params.set('display', 'Zoë "Z"');
    uri.headers.set('Subject', 'a b&c');
    expect(uri.toString()).toBe('sip:a@example.com;x=/a:b;%6c%72;y=(1);display=Zo%C3%AB%20%22Z%22?h=%3Cx%3E&Subject=a%20b%26c');
    expect((parseUri(uri.toString()) as SipUri).params.get('display')).toBe('Zo%C3%AB%20%22Z%22');
  });

  it('keeps a URI of another scheme as text, with its scheme in lower case', () => {
    const uri = parseUri('TEL:+1-415-555-0134;phone-context=example.com');
    expect(uri).toBeInstanceOf(AbsoluteUri);
    expect(uri.toString()).toBe('tel:+1-415-555-0134;phone-context=example.com');
    expect(uri.isSip).toBe(false);
  });
});

describe('Via', () => {
  it('reads an IPv6 sent-by with its port, and the parameters', () => {
    const via = parseVia('SIP/2.0/UDP [2001:db8::9:1]:5070;branch=z9hG4bKas3-111;received=[2001:db8::9:255];rport=5070');
    expect([via.transport, via.host, via.port, via.branch]).toEqual(['UDP', '[2001:db8::9:1]', 5070, 'z9hG4bKas3-111']);
    expect(via.params.get('received')).toBe('[2001:db8::9:255]');
    expect(via.sentBy).toBe('[2001:db8::9:1]:5070');
    expect(via.toString()).toBe('SIP/2.0/UDP [2001:db8::9:1]:5070;branch=z9hG4bKas3-111;received=[2001:db8::9:255];rport=5070');
  });

  it('allows white space around the slashes, the colon and the parameters, and upper-cases the transport', () => {
    const via = parseVia('SIP / 2.0 / tcp   host.example.com : 5060 ; branch = z9hG4bKx ; rport');
    expect([via.transport, via.host, via.port, via.branch, via.params.get('rport')]).toEqual(['TCP', 'host.example.com', 5060, 'z9hG4bKx', null]);
  });

  it('tells RFC 3261 branches from RFC 2543 ones by the magic cookie', () => {
    expect(parseVia('SIP/2.0/UDP h;branch=z9hG4bK77').isRfc3261Branch).toBe(true);
    expect(parseVia('SIP/2.0/UDP h;branch=77').isRfc3261Branch).toBe(false);
    expect(parseVia('SIP/2.0/UDP h').isRfc3261Branch).toBe(false);
  });

  it.each([
    'SIP/2.0/UDP', // no sent-by
    'SIP/3.0/UDP host', // another protocol version
    'SIP/2.0/UDP host:0',
    'SIP/2.0/UDP host:70000',
    'SIP/2.0/UDP host;branch', // via-branch = "branch" EQUAL token
    'SIP/2.0/UDP host;branch=',
    'SIP/2.0/UDP 192.0.2.15;;,;,,', // RFC 4475 §3.1.2.1
  ])('rejects %j', (value) => {
    expect(() => parseVia(value)).toThrow(SipParseError);
  });

  it('keeps several Via values on one line apart, in order', () => {
    const m = parseMessage(
      datagram(
        'OPTIONS sip:bob@example.com SIP/2.0',
        'Via: SIP/2.0/UDP [2001:db8::1];branch=z9hG4bK1, SIP/2.0/TCP b.example.com;branch=z9hG4bK2',
        'Via: SIP/2.0/TLS c.example.com;branch=z9hG4bK3',
        ...OPTIONS_HEADERS.slice(1),
      ),
    );
    expect(m.vias.map((v) => v.host)).toEqual(['[2001:db8::1]', 'b.example.com', 'c.example.com']);
    expect(m.topVia.branch).toBe('z9hG4bK1');
  });
});

describe('quoted strings', () => {
  it('unescapes quoted-pairs in a display name', () => {
    const a = parseNameAddr('"Bob \\"the builder\\" \\\\ Co" <sip:bob@example.com>;tag=x');
    expect(a.displayName).toBe('Bob "the builder" \\ Co');
    expect(a.tag).toBe('x');
  });

  it('writes back what it read: quote() escapes " and \\', () => {
    expect(quote('Bob "the builder" \\ Co')).toBe('"Bob \\"the builder\\" \\\\ Co"');
    const a = parseNameAddr('"Bob \\"the builder\\" \\\\ Co" <sip:bob@example.com>');
    expect(parseNameAddr(a.toString()).displayName).toBe(a.displayName);
  });

  it('escapes the control characters qdtext does not allow, and writes CR and LF as SP', () => {
    expect(quote('BEL:\x07 NUL:\x00 DEL:\x7f')).toBe('"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f"');
    expect(quote('tab\tstays')).toBe('"tab\tstays"');
    expect(quote('two\r\nlines')).toBe('"two  lines"');
    expect(parseNameAddr(`${quote('BEL:\x07 NUL:\x00')} <sip:a@b.example>`).displayName).toBe('BEL:\x07 NUL:\x00');
  });

  it('keeps UTF-8 display names', () => {
    expect(parseNameAddr('"Zoë Ångström 大" <sip:z@example.com>').displayName).toBe('Zoë Ångström 大');
  });

  it.each([
    '"unterminated <sip:a@example.com>', // RFC 4475 §3.1.2.6
    '"escaped end\\" <sip:a@example.com>',
    'Bell, Alexander <sip:a.g.bell@example.com>', // RFC 4475 §3.1.2.15: not a token
    '"Watson" < sip:t.watson@example.org >', // RFC 4475 §3.1.2.14
    '"name"sip:a@example.com', // a quoted display name needs <URI>
    'sip:user@example.com?Route=%3Csip:sip.example.com%3E', // RFC 4475 §3.1.2.13
  ])('rejects %j', (value) => {
    expect(() => parseNameAddr(value)).toThrow(SipParseError);
  });

  it('reads a token display name without LWS before < (RFC 4475 §3.1.1.6)', () => {
    expect(parseNameAddr('caller<sip:caller@example.com>;tag=323').displayName).toBe('caller');
  });

  it('takes parameters after an addr-spec as header parameters (RFC 3261 §20)', () => {
    const a = parseNameAddr('sip:+19725552222@gw1.example.net;unknownparam;expires=60');
    expect((a.uri as SipUri).params.size).toBe(0);
    expect([...a.params]).toEqual([['unknownparam', null], ['expires', '60']]);
  });
});

describe('splitTopLevel', () => {
  it('splits at commas outside quotes and angle brackets', () => {
    expect(splitTopLevel('"Doe, John" <sip:j@example.com;x=a,b>, <sip:k@example.com> ,sip:l@example.com')).toEqual([
      '"Doe, John" <sip:j@example.com;x=a,b>',
      '<sip:k@example.com>',
      'sip:l@example.com',
    ]);
  });

  it('does not end a quoted string at an escaped quote', () => {
    expect(splitTopLevel('"a \\", b", c')).toEqual(['"a \\", b"', 'c']);
  });

  it('keeps empty values, which callers may drop', () => {
    expect(splitTopLevel(';;,,;;,;')).toEqual([';;', '', ';;', ';']);
    expect(splitTopLevel('')).toEqual(['']);
  });

  it('splits at another separator when asked', () => {
    expect(splitTopLevel('a=1; b="x;y"; c', ';')).toEqual(['a=1', 'b="x;y"', 'c']);
  });

  it('trims SIP white space only: U+FEFF and U+00A0 are text', () => {
    expect(splitTopLevel(' \ta , \ufeffb\u00a0 ')).toEqual(['a', '\ufeffb\u00a0']);
  });

  it('rejects an unterminated quoted string', () => {
    expect(() => splitTopLevel('"a, b')).toThrow(SipParseError);
  });
});

describe('parameters', () => {
  it('reads names case-insensitively, values as written, quoted values unquoted', () => {
    const p = parseParams(' ; Tag = AbC ;lr; q=0.5;text="a \\"b\\" c";received=[2001:db8::1]');
    expect([...p]).toEqual([['tag', 'AbC'], ['lr', null], ['q', '0.5'], ['text', 'a "b" c'], ['received', '[2001:db8::1]']]);
    expect(formatParams(p)).toBe(';tag=AbC;lr;q=0.5;text="a \\"b\\" c";received=[2001:db8::1]');
  });

  it.each([';', ';=x', ';a=', ';a b', 'a=1', ';a=<x>'])('rejects %j', (text) => {
    expect(() => parseParams(text)).toThrow(SipParseError);
  });
});

describe('CSeq and other numbers', () => {
  it('reads leading zeros and 32-bit values (RFC 3261 §8.1.1.5, RFC 4475 §3.1.1.1)', () => {
    expect(parseCSeq('0009\tINVITE')).toEqual({ seq: 9, method: 'INVITE' });
    expect(parseCSeq('4294967295 BYE')).toEqual({ seq: 4294967295, method: 'BYE' });
    expect(parseInteger('Max-Forwards', '0000000000068', 255)).toBe(68);
  });

  it.each(['4294967296 BYE', '36893488147419103232 REGISTER', '-1 BYE', '1', 'x BYE', '1 BYE extra'])('rejects CSeq %j', (value) => {
    expect(() => parseCSeq(value)).toThrow(SipParseError);
  });

  it.each([['-999'], ['five'], ['1e3'], ['0x10'], [' '], ['1'.repeat(400)]])('rejects the integer %j', (value) => {
    expect(() => parseInteger('Content-Length', value)).toThrow(SipParseError);
  });
});

describe('createResponse (RFC 3261 §8.2.6.2)', () => {
  const invite = request(parseMessage(datagram(
    'INVITE sip:bob@example.com SIP/2.0',
    'Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1',
    'Via: SIP/2.0/UDP b.example.com;branch=z9hG4bK2',
    'To: "Bob" <sip:bob@example.com>',
    'From: <sip:alice@example.com>;tag=f1',
    'Call-ID: c@a',
    'CSeq: 7 INVITE',
    'Max-Forwards: 70',
    'Contact: <sip:alice@a.example.com>',
    'Subject: not copied',
  )));

  it('copies Via, From, To, Call-ID and CSeq, and nothing else', () => {
    const r = createResponse(invite, 486);
    expect(r.status).toBe(486);
    expect(r.reason).toBe('Busy Here');
    expect(r.headerValues('Via')).toEqual(['SIP/2.0/UDP a.example.com;branch=z9hG4bK1', 'SIP/2.0/UDP b.example.com;branch=z9hG4bK2']);
    expect([r.from.tag, r.callId, r.cseq]).toEqual(['f1', 'c@a', { seq: 7, method: 'INVITE' }]);
    expect(r.hasHeader('Subject')).toBe(false);
    expect(r.hasHeader('Contact')).toBe(false);
  });

  it('adds a To tag to every response but 100, and keeps the display name', () => {
    const r = createResponse(invite, 180);
    expect(r.to.tag).toMatch(/^[0-9a-f]{16}$/);
    expect(r.to.displayName).toBe('Bob');
    expect(createResponse(invite, 200, { toTag: 'mine' }).to.tag).toBe('mine');
    expect(createResponse(invite, 100).to.tag).toBeUndefined();
  });

  it('leaves an existing To tag alone (a request inside a dialog)', () => {
    const headers = OPTIONS_HEADERS.map((h) => (h.startsWith('To:') ? `${h};tag=b2` : h));
    const inDialog = request(parseMessage(datagram('OPTIONS sip:bob@example.com SIP/2.0', ...headers)));
    expect(createResponse(inDialog, 200).to.tag).toBe('b2');
  });

  it('writes a response that parses back to the same values, with its Content-Length', () => {
    const r = createResponse(invite, 400, { reason: 'Bad "Thing"', toTag: 't' });
    const back = parseMessage(r.toBuffer());
    expect(back.isRequest).toBe(false);
    expect(back.toString()).toBe(r.toString());
    expect(back.header('Content-Length')).toBe('0');
  });
});

describe('parseMessage edge cases', () => {
  const options = (...extra: string[]) => datagram('OPTIONS sip:bob@example.com SIP/2.0', ...OPTIONS_HEADERS, ...extra);

  it('reads SIP-Version case-insensitively (RFC 3261 §7.1)', () => {
    const m = request(parseMessage(Buffer.from(options().toString().replace('SIP/2.0\r\n', 'sip/2.0\r\n'))));
    expect(m.method).toBe('OPTIONS');
    expect(parseMessage(Buffer.from(`sip/2.0 200 OK\r\n${OPTIONS_HEADERS.join('\r\n')}\r\n\r\n`)).isRequest).toBe(false);
  });

  it('accepts LF-only line ends and leading CRLFs', () => {
    const m = parseMessage(Buffer.from(`\r\n\r\n${options().toString().replaceAll('\r\n', '\n')}`));
    expect(request(m).callId).toBe('c1@192.0.2.1');
  });

  it('unfolds continuation lines into one SP', () => {
    const m = parseMessage(options('Subject: first', ' \t second', '\tthird'));
    expect(m.header('Subject')).toBe('first second third');
  });

  it('refuses a bare CR inside a header line, and answers it', () => {
    const err = rejection(options('Subject: a\rInjected: yes'));
    expect(err.status).toBe(400);
    expect(err.partial?.method).toBe('OPTIONS');
  });

  it('answers 505 to another SIP version with the headers the answer needs', () => {
    const err = rejection(Buffer.from(options().toString().replace('SIP/2.0\r\n', 'SIP/3.0\r\n')));
    expect(err.status).toBe(505);
    expect(err.partial!.headers.map((h) => h.name)).toEqual(['Via', 'To', 'From', 'Call-ID', 'CSeq', 'Max-Forwards']);
  });

  it('answers 513 to an oversize request, with its headers', () => {
    const err = (() => {
      try {
        parseMessage(Buffer.concat([options('Content-Length: 5000'), Buffer.alloc(5000, 0x61)]), { maxBytes: 1000 });
      } catch (e) {
        return e as SipMessageError;
      }
      throw new Error('accepted');
    })();
    expect(err.status).toBe(513);
    expect(err.partial!.headers.map((h) => h.name)).toContain('Via');
  });

  it('answers 400 to a malformed request line when the method can be read, with the headers', () => {
    const err = rejection(Buffer.from(options().toString().replace('SIP/2.0\r\n', 'SIP/2.0 \r\n')));
    expect(err.status).toBe(400);
    expect(err.partial?.headers.length).toBe(6);
  });

  it('drops what has no readable start line', () => {
    const err = rejection(Buffer.from('\x00\x01garbage\r\n\r\n'));
    expect(err.partial).toBeUndefined();
  });

  it('answers 501 to an unknown method whose CSeq names another, 400 to a known one', () => {
    expect(rejection(Buffer.from(options().toString().replace('OPTIONS sip', 'FROB sip'))).status).toBe(501);
    expect(rejection(Buffer.from(options().toString().replace('OPTIONS sip', 'INFO sip'))).status).toBe(400);
    // methods are case-sensitive: "options" is not OPTIONS
    expect(rejection(Buffer.from(options().toString().replace('OPTIONS sip', 'options sip'))).status).toBe(501);
  });

  it('keeps header values as received, U+FEFF included', () => {
    expect(parseMessage(options('X-Text: \ufeffhello\u00a0')).header('X-Text')).toBe('\ufeffhello\u00a0');
  });

  it('rejects a Request-URI with headers (RFC 3261 §19.1.1)', () => {
    const err = rejection(Buffer.from(options().toString().replace('sip:bob@example.com SIP', 'sip:bob@example.com?Subject=x SIP')));
    expect(err.status).toBe(400);
  });
});
