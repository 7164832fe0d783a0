/**
 * SRTP and SRTCP with AES_CM_128_HMAC_SHA1_80 (RFC 3711, the profile every browser offers over
 * DTLS-SRTP, RFC 5764) for the relay's hot path.
 *
 * Why not werift's own SRTP or `node:crypto`: both create a cipher and an HMAC object per packet
 * (and werift concatenates buffers on top), about 8 µs a packet; per-packet native calls cost more
 * than the cryptography itself at 160-byte payloads. This one keeps the expanded AES key and the
 * HMAC inner/outer SHA-1 states precomputed, works in place on the packet buffer and allocates
 * nothing (≈3 µs a packet). Its output is checked against `node:crypto` in srtp.test.ts.
 */

// ---------------------------------------------------------------- AES-128, encryption only (T-tables)

const SBOX = new Uint8Array(256);
const T0 = new Uint32Array(256);
const T1 = new Uint32Array(256);
const T2 = new Uint32Array(256);
const T3 = new Uint32Array(256);
{
  let p = 1;
  let q = 1;
  do {
    // p runs through GF(2^8)* by multiplying by 3, q by its inverse.
    p = p ^ ((p << 1) & 0xff) ^ (p & 0x80 ? 0x1b : 0);
    q ^= q << 1;
    q ^= q << 2;
    q ^= q << 4;
    q &= 0xff;
    if (q & 0x80) q ^= 0x09;
    const affine = q ^ (((q << 1) | (q >> 7)) & 0xff) ^ (((q << 2) | (q >> 6)) & 0xff) ^ (((q << 3) | (q >> 5)) & 0xff) ^ (((q << 4) | (q >> 4)) & 0xff);
    SBOX[p] = (affine ^ 0x63) & 0xff;
  } while (p !== 1);
  SBOX[0] = 0x63;
  for (let i = 0; i < 256; i++) {
    const s = SBOX[i]!;
    const s2 = ((s << 1) ^ ((s >> 7) * 0x11b)) & 0xff;
    const t = ((s2 << 24) | (s << 16) | (s << 8) | (s2 ^ s)) >>> 0;
    T0[i] = t;
    T1[i] = ((t >>> 8) | (t << 24)) >>> 0;
    T2[i] = ((t >>> 16) | (t << 16)) >>> 0;
    T3[i] = ((t >>> 24) | (t << 8)) >>> 0;
  }
}

function expandKey(key: Uint8Array): Uint32Array {
  const w = new Uint32Array(44);
  for (let i = 0; i < 4; i++) w[i] = ((key[4 * i]! << 24) | (key[4 * i + 1]! << 16) | (key[4 * i + 2]! << 8) | key[4 * i + 3]!) >>> 0;
  let rcon = 1;
  for (let i = 4; i < 44; i++) {
    let t = w[i - 1]!;
    if (i % 4 === 0) {
      t = ((SBOX[(t >>> 16) & 255]! << 24) | (SBOX[(t >>> 8) & 255]! << 16) | (SBOX[t & 255]! << 8) | SBOX[t >>> 24]!) ^ (rcon << 24);
      rcon = ((rcon << 1) ^ ((rcon >> 7) * 0x11b)) & 0xff;
    }
    w[i] = (w[i - 4]! ^ t) >>> 0;
  }
  return w;
}

/** Encrypts one block given as four big-endian words into `out`. */
function encryptBlock(w: Uint32Array, s0: number, s1: number, s2: number, s3: number, out: Uint32Array): void {
  s0 ^= w[0]!;
  s1 ^= w[1]!;
  s2 ^= w[2]!;
  s3 ^= w[3]!;
  let k = 4;
  for (let r = 1; r < 10; r++) {
    const t0 = T0[s0 >>> 24]! ^ T1[(s1 >>> 16) & 255]! ^ T2[(s2 >>> 8) & 255]! ^ T3[s3 & 255]! ^ w[k]!;
    const t1 = T0[s1 >>> 24]! ^ T1[(s2 >>> 16) & 255]! ^ T2[(s3 >>> 8) & 255]! ^ T3[s0 & 255]! ^ w[k + 1]!;
    const t2 = T0[s2 >>> 24]! ^ T1[(s3 >>> 16) & 255]! ^ T2[(s0 >>> 8) & 255]! ^ T3[s1 & 255]! ^ w[k + 2]!;
    const t3 = T0[s3 >>> 24]! ^ T1[(s0 >>> 16) & 255]! ^ T2[(s1 >>> 8) & 255]! ^ T3[s2 & 255]! ^ w[k + 3]!;
    s0 = t0;
    s1 = t1;
    s2 = t2;
    s3 = t3;
    k += 4;
  }
  out[0] = ((SBOX[s0 >>> 24]! << 24) | (SBOX[(s1 >>> 16) & 255]! << 16) | (SBOX[(s2 >>> 8) & 255]! << 8) | SBOX[s3 & 255]!) ^ w[40]!;
  out[1] = ((SBOX[s1 >>> 24]! << 24) | (SBOX[(s2 >>> 16) & 255]! << 16) | (SBOX[(s3 >>> 8) & 255]! << 8) | SBOX[s0 & 255]!) ^ w[41]!;
  out[2] = ((SBOX[s2 >>> 24]! << 24) | (SBOX[(s3 >>> 16) & 255]! << 16) | (SBOX[(s0 >>> 8) & 255]! << 8) | SBOX[s1 & 255]!) ^ w[42]!;
  out[3] = ((SBOX[s3 >>> 24]! << 24) | (SBOX[(s0 >>> 16) & 255]! << 16) | (SBOX[(s1 >>> 8) & 255]! << 8) | SBOX[s2 & 255]!) ^ w[43]!;
}

const keystream = new Uint32Array(4);

/**
 * AES counter mode (RFC 3711 §4.1.1): XORs buf[start, end) with AES(key, iv + blockIndex), the IV
 * given as four words whose low 16 bits of the last are zero.
 */
function aesCm(w: Uint32Array, iv0: number, iv1: number, iv2: number, iv3: number, buf: Uint8Array, start: number, end: number): void {
  let p = start;
  for (let block = 0; p < end; block++) {
    encryptBlock(w, iv0, iv1, iv2, (iv3 | block) >>> 0, keystream);
    if (end - p >= 16) {
      for (let j = 0; j < 4; j++) {
        const v = keystream[j]!;
        buf[p]! ^= v >>> 24;
        buf[p + 1]! ^= (v >>> 16) & 255;
        buf[p + 2]! ^= (v >>> 8) & 255;
        buf[p + 3]! ^= v & 255;
        p += 4;
      }
    } else {
      for (let j = 0; p < end; j++) buf[p]! ^= (keystream[j >> 2]! >>> (24 - 8 * (j & 3))) & 255, p++;
    }
  }
}

// ---------------------------------------------------------------- HMAC-SHA1 with precomputed pads

const W = new Int32Array(80);

function sha1Block(h: Int32Array, b: Uint8Array, off: number): void {
  for (let i = 0; i < 16; i++, off += 4) W[i] = (b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!;
  for (let i = 16; i < 80; i++) {
    const x = W[i - 3]! ^ W[i - 8]! ^ W[i - 14]! ^ W[i - 16]!;
    W[i] = (x << 1) | (x >>> 31);
  }
  let a = h[0]!;
  let b1 = h[1]!;
  let c = h[2]!;
  let d = h[3]!;
  let e = h[4]!;
  let i = 0;
  for (; i < 20; i++) {
    const t = (((a << 5) | (a >>> 27)) + ((b1 & c) | (~b1 & d)) + e + 0x5a827999 + W[i]!) | 0;
    e = d;
    d = c;
    c = (b1 << 30) | (b1 >>> 2);
    b1 = a;
    a = t;
  }
  for (; i < 40; i++) {
    const t = (((a << 5) | (a >>> 27)) + (b1 ^ c ^ d) + e + 0x6ed9eba1 + W[i]!) | 0;
    e = d;
    d = c;
    c = (b1 << 30) | (b1 >>> 2);
    b1 = a;
    a = t;
  }
  for (; i < 60; i++) {
    const t = (((a << 5) | (a >>> 27)) + ((b1 & c) | (b1 & d) | (c & d)) + e + 0x8f1bbcdc + W[i]!) | 0;
    e = d;
    d = c;
    c = (b1 << 30) | (b1 >>> 2);
    b1 = a;
    a = t;
  }
  for (; i < 80; i++) {
    const t = (((a << 5) | (a >>> 27)) + (b1 ^ c ^ d) + e + 0xca62c1d6 + W[i]!) | 0;
    e = d;
    d = c;
    c = (b1 << 30) | (b1 >>> 2);
    b1 = a;
    a = t;
  }
  h[0] = (h[0]! + a) | 0;
  h[1] = (h[1]! + b1) | 0;
  h[2] = (h[2]! + c) | 0;
  h[3] = (h[3]! + d) | 0;
  h[4] = (h[4]! + e) | 0;
}

const SHA1_INIT = [0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476, 0xc3d2e1f0 | 0];
const tail = new Uint8Array(128);
const state = new Int32Array(5);

class HmacSha1 {
  private readonly inner = new Int32Array(5);
  private readonly outer = new Int32Array(5);

  constructor(key: Uint8Array) {
    const pad = new Uint8Array(64);
    this.inner.set(SHA1_INIT);
    for (let i = 0; i < 64; i++) pad[i] = (key[i] ?? 0) ^ 0x36;
    sha1Block(this.inner, pad, 0);
    this.outer.set(SHA1_INIT);
    for (let i = 0; i < 64; i++) pad[i] = (key[i] ?? 0) ^ 0x5c;
    sha1Block(this.outer, pad, 0);
  }

  /**
   * HMAC(key, msg[0, len) ‖ suffix as 4 bytes big-endian), first 10 bytes written to out[outOff…).
   * SRTP appends the ROC, SRTCP nothing (`suffix` undefined).
   */
  tag80(msg: Uint8Array, len: number, suffix: number | undefined, out: Uint8Array, outOff: number): void {
    const h = state;
    h.set(this.inner);
    let off = 0;
    while (len - off >= 64) {
      sha1Block(h, msg, off);
      off += 64;
    }
    let r = len - off;
    tail.set(msg.subarray(off, len), 0);
    if (suffix !== undefined) {
      tail[r] = suffix >>> 24;
      tail[r + 1] = (suffix >>> 16) & 255;
      tail[r + 2] = (suffix >>> 8) & 255;
      tail[r + 3] = suffix & 255;
      r += 4;
    }
    const total = len + (suffix !== undefined ? 4 : 0);
    const blocks = r + 9 <= 64 ? 64 : 128;
    tail.fill(0, r, blocks);
    tail[r] = 0x80;
    const bits = (total + 64) * 8; // the inner pad block counts too
    writeU32(tail, blocks - 8, Math.floor(bits / 2 ** 32));
    writeU32(tail, blocks - 4, bits >>> 0);
    sha1Block(h, tail, 0);
    if (blocks === 128) sha1Block(h, tail, 64);
    for (let i = 0; i < 5; i++) writeU32(tail, i * 4, h[i]!);
    tail.fill(0, 20, 64);
    tail[20] = 0x80;
    writeU32(tail, 60, (64 + 20) * 8);
    h.set(this.outer);
    sha1Block(h, tail, 0);
    writeU32(out, outOff, h[0]!);
    writeU32(out, outOff + 4, h[1]!);
    out[outOff + 8] = h[2]! >>> 24;
    out[outOff + 9] = (h[2]! >>> 16) & 255;
  }
}

function writeU32(b: Uint8Array, off: number, v: number): void {
  b[off] = v >>> 24;
  b[off + 1] = (v >>> 16) & 255;
  b[off + 2] = (v >>> 8) & 255;
  b[off + 3] = v & 255;
}

function readU32(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}

// ---------------------------------------------------------------- key derivation (RFC 3711 §4.3)

function deriveKey(masterKey: Uint8Array, masterSalt: Uint8Array, label: number, length: number): Uint8Array {
  const w = expandKey(masterKey);
  // x = key_id XOR master_salt, key_id = label ‖ r (r = 0: no key derivation rate), IV = x · 2^16.
  const iv = new Uint8Array(16);
  iv.set(masterSalt.subarray(0, 14), 0);
  iv[7]! ^= label;
  const out = new Uint8Array(length);
  aesCm(w, readU32(iv, 0), readU32(iv, 4), readU32(iv, 8), readU32(iv, 12) & 0xffff0000, out, 0, length);
  return out;
}

/** SRTP_AES128_CM_HMAC_SHA1_80's DTLS-SRTP protection profile number (RFC 5764 §4.1.2). */
export const SRTP_AES128_CM_HMAC_SHA1_80 = 0x0001;
export const SRTP_AUTH_TAG_LENGTH = 10;

/** The state of one direction (one master key): SRTP and SRTCP session keys, ROCs, the SRTCP index. */
export class SrtpContext {
  private readonly rtpKey: Uint32Array;
  private readonly rtpSalt: Uint8Array;
  private readonly rtpAuth: HmacSha1;
  private readonly rtcpKey: Uint32Array;
  private readonly rtcpSalt: Uint8Array;
  private readonly rtcpAuth: HmacSha1;
  /** Per SSRC: rollover counter and highest sequence number (RFC 3711 §3.3.1). */
  private readonly roc = new Map<number, { roc: number; seq: number }>();
  private rtcpIndex = 0;

  constructor(masterKey: Uint8Array, masterSalt: Uint8Array) {
    if (masterKey.length !== 16 || masterSalt.length !== 14) throw new Error('AES_CM_128 needs a 16-byte key and a 14-byte salt');
    this.rtpKey = expandKey(deriveKey(masterKey, masterSalt, 0x00, 16));
    this.rtpAuth = new HmacSha1(deriveKey(masterKey, masterSalt, 0x01, 20));
    this.rtpSalt = deriveKey(masterKey, masterSalt, 0x02, 14);
    this.rtcpKey = expandKey(deriveKey(masterKey, masterSalt, 0x03, 16));
    this.rtcpAuth = new HmacSha1(deriveKey(masterKey, masterSalt, 0x04, 20));
    this.rtcpSalt = deriveKey(masterKey, masterSalt, 0x05, 14);
  }

  /**
   * Encrypts the RTP packet in buf[0, len) in place and appends the tag: buf must have 10 spare
   * bytes after len. Returns the SRTP length, or -1 for a packet too short to be RTP.
   */
  protectRtp(buf: Uint8Array, len: number): number {
    const headerLength = rtpHeaderLength(buf, len);
    if (headerLength < 0) return -1;
    const seq = (buf[2]! << 8) | buf[3]!;
    const ssrc = readU32(buf, 8);
    let s = this.roc.get(ssrc);
    if (!s) this.roc.set(ssrc, (s = { roc: 0, seq }));
    else if (seq < s.seq && s.seq - seq > 0x8000) s.roc = (s.roc + 1) >>> 0; // wrapped
    s.seq = seq;
    this.rtpCipher(buf, headerLength, len, ssrc, s.roc, seq);
    this.rtpAuth.tag80(buf, len, s.roc, buf, len);
    return len + SRTP_AUTH_TAG_LENGTH;
  }

  /**
   * Authenticates and decrypts the SRTP packet in buf[0, len) in place. Returns the RTP length, or
   * -1 when it does not authenticate (forged, or keyed for someone else).
   */
  unprotectRtp(buf: Uint8Array, len: number): number {
    const rtpLength = len - SRTP_AUTH_TAG_LENGTH;
    const headerLength = rtpHeaderLength(buf, rtpLength);
    if (headerLength < 0) return -1;
    const seq = (buf[2]! << 8) | buf[3]!;
    const ssrc = readU32(buf, 8);
    const s = this.roc.get(ssrc);
    // RFC 3711 §3.3.1: guess the packet's ROC from the highest sequence number seen.
    let guess = 0;
    if (s) {
      guess = s.roc;
      if (s.seq < 0x8000) {
        if (seq - s.seq > 0x8000) guess = (s.roc - 1) >>> 0;
      } else if (s.seq - 0x8000 > seq) guess = (s.roc + 1) >>> 0;
    }
    this.rtpAuth.tag80(buf, rtpLength, guess, scratchTag, 0);
    for (let i = 0; i < SRTP_AUTH_TAG_LENGTH; i++) if (scratchTag[i] !== buf[rtpLength + i]) return -1;
    if (!s) this.roc.set(ssrc, { roc: guess, seq });
    else if (guess === ((s.roc + 1) >>> 0)) {
      s.roc = guess;
      s.seq = seq;
    } else if (guess === s.roc && seq > s.seq) s.seq = seq;
    this.rtpCipher(buf, headerLength, rtpLength, ssrc, guess, seq);
    return rtpLength;
  }

  private rtpCipher(buf: Uint8Array, start: number, end: number, ssrc: number, roc: number, seq: number): void {
    // IV = (k_s · 2^16) XOR (SSRC · 2^64) XOR (i · 2^16), i = ROC · 2^16 + SEQ (RFC 3711 §4.1.1)
    const salt = this.rtpSalt;
    const iv0 = readU32(salt, 0);
    const iv1 = (readU32(salt, 4) ^ ssrc) >>> 0;
    const iv2 = (readU32(salt, 8) ^ roc) >>> 0;
    const iv3 = ((((salt[12]! << 8) | salt[13]!) ^ seq) << 16) >>> 0;
    aesCm(this.rtpKey, iv0, iv1, iv2, iv3, buf, start, end);
  }

  /** Encrypts an RTCP compound packet in place, appending E‖index and the tag (buf needs 14 spare bytes). */
  protectRtcp(buf: Uint8Array, len: number): number {
    if (len < 8) return -1;
    const index = (this.rtcpIndex = (this.rtcpIndex + 1) & 0x7fffffff);
    this.rtcpCipher(buf, len, readU32(buf, 4), index);
    writeU32(buf, len, (0x80000000 | index) >>> 0);
    this.rtcpAuth.tag80(buf, len + 4, undefined, buf, len + 4);
    return len + 4 + SRTP_AUTH_TAG_LENGTH;
  }

  /** Authenticates and decrypts an SRTCP packet in place; returns the RTCP length or -1. */
  unprotectRtcp(buf: Uint8Array, len: number): number {
    const rtcpLength = len - 4 - SRTP_AUTH_TAG_LENGTH;
    if (rtcpLength < 8) return -1;
    this.rtcpAuth.tag80(buf, len - SRTP_AUTH_TAG_LENGTH, undefined, scratchTag, 0);
    for (let i = 0; i < SRTP_AUTH_TAG_LENGTH; i++) if (scratchTag[i] !== buf[len - SRTP_AUTH_TAG_LENGTH + i]) return -1;
    const e = readU32(buf, rtcpLength);
    if (e & 0x80000000) this.rtcpCipher(buf, rtcpLength, readU32(buf, 4), e & 0x7fffffff);
    return rtcpLength;
  }

  private rtcpCipher(buf: Uint8Array, end: number, ssrc: number, index: number): void {
    const salt = this.rtcpSalt;
    const iv0 = readU32(salt, 0);
    const iv1 = (readU32(salt, 4) ^ ssrc) >>> 0;
    const iv2 = (readU32(salt, 8) ^ (index >>> 16)) >>> 0;
    const iv3 = ((((salt[12]! << 8) | salt[13]!) ^ (index & 0xffff)) << 16) >>> 0;
    aesCm(this.rtcpKey, iv0, iv1, iv2, iv3, buf, 8, end);
  }
}

const scratchTag = new Uint8Array(SRTP_AUTH_TAG_LENGTH);

/** Length of an RTP header with its CSRCs and extension, or -1 when buf[0, len) is not RTP. */
export function rtpHeaderLength(buf: Uint8Array, len: number): number {
  if (len < 12 || buf[0]! >> 6 !== 2) return -1;
  let n = 12 + 4 * (buf[0]! & 0x0f);
  if (buf[0]! & 0x10) {
    if (len < n + 4) return -1;
    n += 4 + 4 * ((buf[n + 2]! << 8) | buf[n + 3]!);
  }
  return n <= len ? n : -1;
}
