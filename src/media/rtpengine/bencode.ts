/**
 * Bencode (BEP 3), the encoding of rtpengine's ng control protocol: byte strings `4:spam`,
 * integers `i42e`, lists `l…e`, dictionaries `d…e` with keys sorted. Strings are decoded as UTF-8.
 * The decoder refuses anything malformed or nested absurdly deep (a reply is never trusted blindly).
 */

export type BencodeValue = string | number | BencodeValue[] | { [key: string]: BencodeValue };

export function encode(value: BencodeValue | undefined | null | boolean): Buffer {
  const parts: Buffer[] = [];
  write(value, parts);
  return Buffer.concat(parts);
}

function write(value: BencodeValue | undefined | null | boolean, out: Buffer[]): void {
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    out.push(Buffer.from(`${bytes.length}:`), bytes);
  } else if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new TypeError(`bencode integers only: ${value}`);
    out.push(Buffer.from(`i${value}e`));
  } else if (typeof value === 'boolean') {
    // rtpengine flags are strings; booleans become "yes"/"no" where the protocol takes them.
    write(value ? 'yes' : 'no', out);
  } else if (Array.isArray(value)) {
    out.push(Buffer.from('l'));
    for (const v of value) write(v, out);
    out.push(Buffer.from('e'));
  } else if (value && typeof value === 'object') {
    out.push(Buffer.from('d'));
    for (const key of Object.keys(value).sort()) {
      const v = value[key];
      if (v === undefined) continue;
      write(key, out);
      write(v, out);
    }
    out.push(Buffer.from('e'));
  } else {
    throw new TypeError(`cannot bencode ${String(value)}`);
  }
}

const MAX_DEPTH = 32;

export function decode(buf: Buffer): BencodeValue {
  const [value, end] = read(buf, 0, 0);
  if (end !== buf.length) throw new SyntaxError(`bencode: ${buf.length - end} trailing bytes`);
  return value;
}

function read(buf: Buffer, pos: number, depth: number): [BencodeValue, number] {
  if (depth > MAX_DEPTH) throw new SyntaxError('bencode: nested too deep');
  const c = buf[pos];
  if (c === undefined) throw new SyntaxError('bencode: truncated');
  if (c === 0x69 /* i */) {
    const end = buf.indexOf(0x65 /* e */, pos + 1);
    if (end < 0) throw new SyntaxError('bencode: unterminated integer');
    const text = buf.toString('latin1', pos + 1, end);
    if (!/^-?\d{1,16}$/.test(text)) throw new SyntaxError(`bencode: bad integer ${JSON.stringify(text)}`);
    return [Number(text), end + 1];
  }
  if (c === 0x6c /* l */) {
    const list: BencodeValue[] = [];
    pos++;
    while (buf[pos] !== 0x65) {
      const [v, next] = read(buf, pos, depth + 1);
      list.push(v);
      pos = next;
    }
    return [list, pos + 1];
  }
  if (c === 0x64 /* d */) {
    const dict: { [key: string]: BencodeValue } = Object.create(null);
    pos++;
    while (buf[pos] !== 0x65) {
      const [k, afterKey] = read(buf, pos, depth + 1);
      if (typeof k !== 'string') throw new SyntaxError('bencode: dictionary key is not a string');
      const [v, next] = read(buf, afterKey, depth + 1);
      dict[k] = v;
      pos = next;
    }
    return [dict, pos + 1];
  }
  if (c >= 0x30 && c <= 0x39) {
    const colon = buf.indexOf(0x3a /* : */, pos);
    if (colon < 0 || colon - pos > 10) throw new SyntaxError('bencode: bad string length');
    const length = Number(buf.toString('latin1', pos, colon));
    const start = colon + 1;
    if (!Number.isSafeInteger(length) || start + length > buf.length) throw new SyntaxError('bencode: string runs past the end');
    return [buf.toString('utf8', start, start + length), start + length];
  }
  throw new SyntaxError(`bencode: unexpected byte 0x${c.toString(16)} at ${pos}`);
}
