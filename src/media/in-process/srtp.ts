/**
 * SRTP and SRTCP (RFC 3711) for the relay's hot path, on OpenSSL through node:crypto: AES-CTR
 * and HMAC-SHA1 for the AES_CM_128_HMAC_SHA1_80/32 profiles (the ones browsers offer over
 * DTLS-SRTP, RFC 5764), AES-GCM for the AEAD_AES_128/256_GCM profiles (RFC 7714).
 *
 * No cryptographic primitive is written here (security review, issue 13 "Must hold" 3): this file
 * only lays out IVs, associated data and the packet format, compares tags in constant time and
 * keeps the replay window of RFC 3711 §3.3.2 (a captured packet sent again is dropped, review #25).
 *
 * Cost: node:crypto needs a cipher (and an HMAC) object per packet, since a cipher cannot be given
 * a new IV; everything else (IV, ROC bytes, per-SSRC state) is preallocated, and packets are
 * decrypted and encrypted in place in the caller's buffer.
 */
import { createCipheriv, createDecipheriv, createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';

/** DTLS-SRTP protection profile numbers (RFC 5764 §4.1.2, RFC 7714 §14.2). */
export const SRTP_AES128_CM_HMAC_SHA1_80 = 0x0001;
export const SRTP_AES128_CM_HMAC_SHA1_32 = 0x0002;
export const SRTP_AEAD_AES_128_GCM = 0x0007;
export const SRTP_AEAD_AES_256_GCM = 0x0008;

/** Spare bytes a buffer needs after an RTP packet for protectRtp(), whatever the profile (GCM's tag). */
export const SRTP_MAX_TRAILER = 16;
/** Spare bytes after an RTCP packet for protectRtcp(): the tag and the E‖index word. */
export const SRTCP_MAX_TRAILER = 20;

/** RFC 3711 §3.3.2: packets more than this many indexes behind the highest are refused. */
export const REPLAY_WINDOW = 64;

interface Profile {
  aead: boolean;
  keyLength: number;
  saltLength: number;
  rtpTagLength: number;
  rtcpTagLength: number;
  /** OpenSSL cipher for the payload (and for key derivation: AES-CM of the same key size). */
  cipher: 'aes-128-ctr' | 'aes-128-gcm' | 'aes-256-gcm';
  kdf: 'aes-128-ctr' | 'aes-256-ctr';
}

const PROFILES: Record<number, Profile> = {
  [SRTP_AES128_CM_HMAC_SHA1_80]: { aead: false, keyLength: 16, saltLength: 14, rtpTagLength: 10, rtcpTagLength: 10, cipher: 'aes-128-ctr', kdf: 'aes-128-ctr' },
  // RFC 5764 §4.1.2: SRTCP keeps the 80-bit tag with the _32 profile.
  [SRTP_AES128_CM_HMAC_SHA1_32]: { aead: false, keyLength: 16, saltLength: 14, rtpTagLength: 4, rtcpTagLength: 10, cipher: 'aes-128-ctr', kdf: 'aes-128-ctr' },
  [SRTP_AEAD_AES_128_GCM]: { aead: true, keyLength: 16, saltLength: 12, rtpTagLength: 16, rtcpTagLength: 16, cipher: 'aes-128-gcm', kdf: 'aes-128-ctr' },
  [SRTP_AEAD_AES_256_GCM]: { aead: true, keyLength: 32, saltLength: 12, rtpTagLength: 16, rtcpTagLength: 16, cipher: 'aes-256-gcm', kdf: 'aes-256-ctr' },
};

/** Master key and salt lengths of a profile (what to ask DTLS for). */
export function srtpKeyLengths(profile: number): { keyLength: number; saltLength: number } {
  const p = PROFILES[profile];
  if (!p) throw new RangeError(`SRTP protection profile ${profile} is not supported`);
  return { keyLength: p.keyLength, saltLength: p.saltLength };
}

// ---------------------------------------------------------------- key derivation (RFC 3711 §4.3)

/** Session key labels (RFC 3711 §4.3.2). */
const LABEL = { rtpKey: 0x00, rtpAuth: 0x01, rtpSalt: 0x02, rtcpKey: 0x03, rtcpAuth: 0x04, rtcpSalt: 0x05 } as const;

/**
 * The AES-CM PRF with a key derivation rate of 0: x = label at byte 7 XOR the master salt (a
 * 96-bit GCM salt padded with zeros to 112 bits, RFC 7714 §11), IV = x · 2^16, output = the
 * keystream, i.e. AES-CTR over zeros.
 */
export function deriveSessionKey(kdf: string, masterKey: Uint8Array, masterSalt: Uint8Array, label: number, length: number): Buffer {
  const iv = Buffer.alloc(16);
  iv.set(masterSalt.subarray(0, 14), 0);
  iv[7]! ^= label;
  const cipher = createCipheriv(kdf, masterKey, iv);
  return Buffer.concat([cipher.update(Buffer.alloc(length)), cipher.final()]);
}

// ---------------------------------------------------------------- replay window (RFC 3711 §3.3.2)

/**
 * The packets of one SSRC seen so far: the highest index and which of the 64 below it arrived.
 * A slot per index modulo 64 (a ring), so nothing is allocated or shifted per packet.
 */
class ReplayWindow {
  highest = -1;
  private readonly seen = new Uint8Array(REPLAY_WINDOW);

  /** True when `index` was already received, or is too old to tell. */
  rejects(index: number): boolean {
    if (index > this.highest) return false;
    if (this.highest - index >= REPLAY_WINDOW || index < 0) return true;
    return this.seen[index % REPLAY_WINDOW] === 1;
  }

  /** Marks an authenticated packet's index as received. */
  record(index: number): void {
    if (index > this.highest) {
      if (this.highest < 0 || index - this.highest >= REPLAY_WINDOW) this.seen.fill(0);
      else for (let i = this.highest + 1; i < index; i++) this.seen[i % REPLAY_WINDOW] = 0;
      this.highest = index;
    }
    this.seen[index % REPLAY_WINDOW] = 1;
  }
}

/** What the receiver keeps per SSRC: the rollover counter, s_l (RFC 3711 §3.3.1) and the window. */
class InboundStream {
  roc = 0;
  seq = 0;
  readonly window = new ReplayWindow();
}

/** What the sender keeps per SSRC: the rollover counter and the last sequence number sent. */
interface OutboundStream {
  roc: number;
  seq: number;
}

// ---------------------------------------------------------------- the context

/** The state of one direction (one master key): SRTP and SRTCP session keys, ROCs, windows. */
export class SrtpContext {
  private readonly profile: Profile;
  private readonly rtpKey: KeyObject;
  private readonly rtpSalt: Buffer;
  private readonly rtpAuth?: KeyObject;
  private readonly rtcpKey: KeyObject;
  private readonly rtcpSalt: Buffer;
  private readonly rtcpAuth?: KeyObject;
  private readonly outbound = new Map<number, OutboundStream>();
  private readonly inbound = new Map<number, InboundStream>();
  private readonly rtcpInbound = new Map<number, ReplayWindow>();
  private rtcpIndex = 0;
  /** Reused per packet: the IV (node:crypto copies it) and the 4 bytes of ROC the HMAC covers. */
  private readonly iv: Buffer;
  private readonly word = Buffer.alloc(4);

  constructor(masterKey: Uint8Array, masterSalt: Uint8Array, profileNumber = SRTP_AES128_CM_HMAC_SHA1_80) {
    const profile = PROFILES[profileNumber];
    if (!profile) throw new RangeError(`SRTP protection profile ${profileNumber} is not supported`);
    if (masterKey.length !== profile.keyLength || masterSalt.length !== profile.saltLength) {
      throw new RangeError(`SRTP profile ${profileNumber} needs a ${profile.keyLength}-byte key and a ${profile.saltLength}-byte salt`);
    }
    this.profile = profile;
    const derive = (label: number, length: number) => deriveSessionKey(profile.kdf, masterKey, masterSalt, label, length);
    this.rtpKey = createSecretKey(derive(LABEL.rtpKey, profile.keyLength));
    this.rtpSalt = derive(LABEL.rtpSalt, profile.saltLength);
    this.rtcpKey = createSecretKey(derive(LABEL.rtcpKey, profile.keyLength));
    this.rtcpSalt = derive(LABEL.rtcpSalt, profile.saltLength);
    if (!profile.aead) {
      this.rtpAuth = createSecretKey(derive(LABEL.rtpAuth, 20));
      this.rtcpAuth = createSecretKey(derive(LABEL.rtcpAuth, 20));
    }
    this.iv = Buffer.alloc(profile.aead ? 12 : 16);
  }

  /** Bytes protectRtp() appends. */
  get rtpTrailer(): number {
    return this.profile.rtpTagLength;
  }

  /** Bytes protectRtcp() appends (E‖index and the tag). */
  get rtcpTrailer(): number {
    return 4 + this.profile.rtcpTagLength;
  }

  // -------------------------------------------------------------- SRTP

  /**
   * Encrypts the RTP packet in buf[0, len) in place and appends the tag: buf must have
   * `rtpTrailer` (at most SRTP_MAX_TRAILER) spare bytes after len. Returns the SRTP length, or -1
   * for a packet too short to be RTP.
   */
  protectRtp(buf: Buffer, len: number): number {
    const headerLength = rtpHeaderLength(buf, len);
    if (headerLength < 0) return -1;
    const seq = (buf[2]! << 8) | buf[3]!;
    const ssrc = buf.readUInt32BE(8);
    let s = this.outbound.get(ssrc);
    if (!s) this.outbound.set(ssrc, (s = { roc: 0, seq }));
    else if (seq < s.seq && s.seq - seq > 0x8000) s.roc = (s.roc + 1) >>> 0; // wrapped
    s.seq = seq;
    const tagLength = this.profile.rtpTagLength;
    if (this.profile.aead) {
      const cipher = createCipheriv(this.profile.cipher as 'aes-128-gcm', this.rtpKey, this.gcmRtpIv(ssrc, s.roc, seq), { authTagLength: 16 });
      cipher.setAAD(buf.subarray(0, headerLength));
      cipher.update(buf.subarray(headerLength, len)).copy(buf, headerLength);
      cipher.final();
      cipher.getAuthTag().copy(buf, len);
      return len + tagLength;
    }
    const cipher = createCipheriv('aes-128-ctr', this.rtpKey, this.cmRtpIv(ssrc, s.roc, seq));
    cipher.update(buf.subarray(headerLength, len)).copy(buf, headerLength);
    this.hmac(this.rtpAuth!, buf, len, s.roc).copy(buf, len, 0, tagLength);
    return len + tagLength;
  }

  /**
   * Authenticates and decrypts the SRTP packet in buf[0, len) in place. Returns the RTP length, or
   * -1 when it does not authenticate (forged, keyed for someone else) or was received before.
   */
  unprotectRtp(buf: Buffer, len: number): number {
    const tagLength = this.profile.rtpTagLength;
    const rtpLength = len - tagLength;
    const headerLength = rtpHeaderLength(buf, rtpLength);
    if (headerLength < 0) return -1;
    const seq = (buf[2]! << 8) | buf[3]!;
    const ssrc = buf.readUInt32BE(8);
    const s = this.inbound.get(ssrc);
    const roc = s ? estimateRoc(s, seq) : 0;
    const index = roc * 0x10000 + seq;
    // Replayed or too old: refused before spending the cryptography on it.
    if (s?.window.rejects(index)) return -1;
    const packetRoc = roc >>> 0;
    if (this.profile.aead) {
      const decipher = createDecipheriv(this.profile.cipher as 'aes-128-gcm', this.rtpKey, this.gcmRtpIv(ssrc, packetRoc, seq), { authTagLength: 16 });
      decipher.setAAD(buf.subarray(0, headerLength));
      decipher.setAuthTag(buf.subarray(rtpLength, len));
      const plain = decipher.update(buf.subarray(headerLength, rtpLength));
      try {
        decipher.final(); // checks the tag (constant time, in OpenSSL)
      } catch {
        return -1;
      }
      plain.copy(buf, headerLength);
    } else {
      const tag = this.hmac(this.rtpAuth!, buf, rtpLength, packetRoc);
      if (!timingSafeEqual(tag.subarray(0, tagLength), buf.subarray(rtpLength, len))) return -1;
      const decipher = createCipheriv('aes-128-ctr', this.rtpKey, this.cmRtpIv(ssrc, packetRoc, seq));
      decipher.update(buf.subarray(headerLength, rtpLength)).copy(buf, headerLength);
    }
    this.received(ssrc, s, roc, seq, index);
    return rtpLength;
  }

  /** Updates ROC and s_l after an authenticated packet (RFC 3711 §3.3.1) and marks it received. */
  private received(ssrc: number, s: InboundStream | undefined, roc: number, seq: number, index: number): void {
    if (!s) {
      s = new InboundStream();
      s.roc = roc;
      s.seq = seq;
      this.inbound.set(ssrc, s);
    } else if (roc > s.roc) {
      s.roc = roc;
      s.seq = seq;
    } else if (roc === s.roc && seq > s.seq) s.seq = seq;
    s.window.record(index);
  }

  private cmRtpIv(ssrc: number, roc: number, seq: number): Buffer {
    return writeAesCmIv(this.iv, this.rtpSalt, ssrc, roc, seq);
  }

  /** IV = salt XOR (00 00 ‖ SSRC ‖ ROC ‖ SEQ) (RFC 7714 §8.1). */
  private gcmRtpIv(ssrc: number, roc: number, seq: number): Buffer {
    const iv = this.iv;
    this.rtpSalt.copy(iv, 0, 0, 12);
    xorU32(iv, 2, ssrc);
    xorU32(iv, 6, roc);
    iv[10]! ^= seq >> 8;
    iv[11]! ^= seq & 0xff;
    return iv;
  }

  /** HMAC-SHA1 over buf[0, len) and, for SRTP, the ROC (RFC 3711 §4.2). */
  private hmac(key: KeyObject, buf: Buffer, len: number, roc: number | undefined): Buffer {
    const h = createHmac('sha1', key).update(buf.subarray(0, len));
    if (roc !== undefined) {
      this.word.writeUInt32BE(roc >>> 0, 0);
      h.update(this.word);
    }
    return h.digest();
  }

  // -------------------------------------------------------------- SRTCP

  /** Encrypts an RTCP compound packet in place, appending E‖index and the tag (`rtcpTrailer` spare bytes). */
  protectRtcp(buf: Buffer, len: number): number {
    if (len < 8) return -1;
    const index = (this.rtcpIndex = (this.rtcpIndex + 1) & 0x7fffffff);
    const ssrc = buf.readUInt32BE(4);
    const tagLength = this.profile.rtcpTagLength;
    if (this.profile.aead) {
      // RFC 7714 §9: header ‖ ciphertext ‖ tag ‖ E‖index; the AAD is the header and E‖index.
      const eIndex = (0x80000000 | index) >>> 0;
      const cipher = createCipheriv(this.profile.cipher as 'aes-128-gcm', this.rtcpKey, this.gcmRtcpIv(ssrc, index), { authTagLength: 16 });
      this.word.writeUInt32BE(eIndex, 0);
      cipher.setAAD(Buffer.concat([buf.subarray(0, 8), this.word]));
      cipher.update(buf.subarray(8, len)).copy(buf, 8);
      cipher.final();
      cipher.getAuthTag().copy(buf, len);
      buf.writeUInt32BE(eIndex, len + tagLength);
      return len + tagLength + 4;
    }
    const cipher = createCipheriv('aes-128-ctr', this.rtcpKey, this.cmRtcpIv(ssrc, index));
    cipher.update(buf.subarray(8, len)).copy(buf, 8);
    buf.writeUInt32BE((0x80000000 | index) >>> 0, len);
    this.hmac(this.rtcpAuth!, buf, len + 4, undefined).copy(buf, len + 4, 0, tagLength);
    return len + 4 + tagLength;
  }

  /** Authenticates and decrypts an SRTCP packet in place; returns the RTCP length or -1 (forged, replayed). */
  unprotectRtcp(buf: Buffer, len: number): number {
    const tagLength = this.profile.rtcpTagLength;
    const rtcpLength = len - 4 - tagLength;
    if (rtcpLength < 8) return -1;
    const ssrc = buf.readUInt32BE(4);
    const eAt = this.profile.aead ? len - 4 : rtcpLength;
    const e = buf.readUInt32BE(eAt);
    const index = e & 0x7fffffff;
    const window = this.rtcpInbound.get(ssrc);
    if (window?.rejects(index)) return -1;
    if (this.profile.aead) {
      if (!(e & 0x80000000)) return -1; // unencrypted SRTCP is not something browsers send
      const decipher = createDecipheriv(this.profile.cipher as 'aes-128-gcm', this.rtcpKey, this.gcmRtcpIv(ssrc, index), { authTagLength: 16 });
      decipher.setAAD(Buffer.concat([buf.subarray(0, 8), buf.subarray(eAt, len)]));
      decipher.setAuthTag(buf.subarray(rtcpLength, rtcpLength + tagLength));
      const plain = decipher.update(buf.subarray(8, rtcpLength));
      try {
        decipher.final();
      } catch {
        return -1;
      }
      plain.copy(buf, 8);
    } else {
      const tag = this.hmac(this.rtcpAuth!, buf, len - tagLength, undefined);
      if (!timingSafeEqual(tag.subarray(0, tagLength), buf.subarray(len - tagLength, len))) return -1;
      if (e & 0x80000000) {
        const decipher = createCipheriv('aes-128-ctr', this.rtcpKey, this.cmRtcpIv(ssrc, index));
        decipher.update(buf.subarray(8, rtcpLength)).copy(buf, 8);
      }
    }
    let w = window;
    if (!w) this.rtcpInbound.set(ssrc, (w = new ReplayWindow()));
    w.record(index);
    return rtcpLength;
  }

  /** The SRTP IV layout with the 31-bit SRTCP index in place of the packet index (RFC 3711 §4.1.1). */
  private cmRtcpIv(ssrc: number, index: number): Buffer {
    const iv = this.iv;
    this.rtcpSalt.copy(iv, 0, 0, 14);
    iv[14] = 0;
    iv[15] = 0;
    xorU32(iv, 4, ssrc);
    iv[10]! ^= (index >>> 24) & 0xff;
    iv[11]! ^= (index >>> 16) & 0xff;
    iv[12]! ^= (index >>> 8) & 0xff;
    iv[13]! ^= index & 0xff;
    return iv;
  }

  /** IV = salt XOR (00 00 ‖ SSRC ‖ 00 00 ‖ 0 ‖ SRTCP index) (RFC 7714 §9.1). */
  private gcmRtcpIv(ssrc: number, index: number): Buffer {
    const iv = this.iv;
    this.rtcpSalt.copy(iv, 0, 0, 12);
    xorU32(iv, 2, ssrc);
    xorU32(iv, 8, index);
    return iv;
  }
}

/**
 * The ROC of a packet from the highest sequence number s_l and its ROC (RFC 3711 Appendix A).
 * May be -1 (a packet from before the first one seen): its index is then negative, i.e. too old.
 */
function estimateRoc(s: InboundStream, seq: number): number {
  if (s.seq < 0x8000) return seq - s.seq > 0x8000 ? s.roc - 1 : s.roc;
  return s.seq - 0x8000 > seq ? s.roc + 1 : s.roc;
}

/**
 * The AES-CM IV of an SRTP packet (RFC 3711 §4.1.1): IV = (k_s · 2^16) XOR (SSRC · 2^64) XOR
 * (i · 2^16), i = ROC · 2^16 + SEQ, written into `iv` (16 bytes).
 */
export function writeAesCmIv(iv: Buffer, sessionSalt: Buffer, ssrc: number, roc: number, seq: number): Buffer {
  sessionSalt.copy(iv, 0, 0, 14);
  iv[14] = 0;
  iv[15] = 0;
  xorU32(iv, 4, ssrc);
  xorU32(iv, 8, roc);
  iv[12]! ^= seq >> 8;
  iv[13]! ^= seq & 0xff;
  return iv;
}

function xorU32(b: Buffer, off: number, v: number): void {
  b[off]! ^= v >>> 24;
  b[off + 1]! ^= (v >>> 16) & 0xff;
  b[off + 2]! ^= (v >>> 8) & 0xff;
  b[off + 3]! ^= v & 0xff;
}

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
