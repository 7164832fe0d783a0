import { createCipheriv, randomBytes } from 'node:crypto';
import { RtpHeader, RtpPacket, SrtcpSession, SrtpSession } from 'werift';
import { describe, expect, it } from 'vitest';
import {
  REPLAY_WINDOW,
  SRTP_AEAD_AES_128_GCM,
  SRTP_AES128_CM_HMAC_SHA1_80,
  SRTP_MAX_TRAILER,
  SRTCP_MAX_TRAILER,
  SrtpContext,
  deriveSessionKey,
  srtpKeyLengths,
  writeAesCmIv,
} from './srtp.ts';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('RFC 3711 Appendix B test vectors', () => {
  it('B.2: the AES-CM keystream of the SRTP IV for SSRC 0, ROC 0, SEQ 0 (and at the end of the counter space)', () => {
    // Session salt F0F1…FD; the IV is the salt · 2^16 XOR the (zero) SSRC and index.
    const iv = writeAesCmIv(Buffer.alloc(16), hex('F0F1F2F3F4F5F6F7F8F9FAFBFCFD'), 0, 0, 0);
    expect(iv.toString('hex')).toBe('f0f1f2f3f4f5f6f7f8f9fafbfcfd0000');
    const key = hex('2B7E151628AED2A6ABF7158809CF4F3C');
    const keystream = createCipheriv('aes-128-ctr', key, iv).update(Buffer.alloc(48));
    expect(keystream.toString('hex')).toBe('e03ead0935c95e80e166b16dd92b4eb4' + 'd23513162b02d0f72a43a2fe4a5f97ab' + '41e95b3bb0a2e8dd477901e4fca894c0');
    const late = createCipheriv('aes-128-ctr', key, hex('F0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF')).update(Buffer.alloc(48));
    expect(late.toString('hex')).toBe('ec8cdf7398607cb0f2d21675ea9ea1e4' + '362b7c3c6773516318a077d7fc5073ae' + '6a2cc3787889374fbeb4c81b17ba6c44');
  });

  it('B.2: SSRC, ROC and SEQ land where §4.1.1 puts them in the IV', () => {
    const iv = writeAesCmIv(Buffer.alloc(16), Buffer.alloc(14), 0x11223344, 0x55667788, 0x99aa);
    expect(iv.toString('hex')).toBe('00000000' + '11223344' + '55667788' + '99aa' + '0000');
  });

  it('B.3: key derivation of the session cipher key, salt and auth key', () => {
    const masterKey = hex('E1F97A0D3E018BE0D64FA32C06DE4139');
    const masterSalt = hex('0EC675AD498AFEEBB6960B3AABE6');
    expect(deriveSessionKey('aes-128-ctr', masterKey, masterSalt, 0x00, 16).toString('hex')).toBe('c61e7a93744f39ee10734afe3ff7a087');
    expect(deriveSessionKey('aes-128-ctr', masterKey, masterSalt, 0x02, 14).toString('hex')).toBe('30cbbc08863d8c85d49db34a9ae1');
    expect(deriveSessionKey('aes-128-ctr', masterKey, masterSalt, 0x01, 94).toString('hex')).toBe(
      'cebe321f6ff7716b6fd4ab49af256a156d38baa48f0a0acf3c34e2359e6cdbce' +
        'e049646c43d9327ad175578ef72270986371c10c9a369ac2f94a8c5fbcdddc25' +
        '6d6e919a48b610ef17c2041e474035766b68642c59bbfc2f34db60dbdfb2',
    );
  });
});

/** werift's SRTP is the reference implementation to interoperate with, both ways. */
function pair(profile: number) {
  const { keyLength, saltLength } = srtpKeyLengths(profile);
  const key = randomBytes(keyLength);
  const salt = randomBytes(saltLength);
  const keys = { localMasterKey: key, localMasterSalt: salt, remoteMasterKey: key, remoteMasterSalt: salt };
  return {
    ours: () => new SrtpContext(key, salt, profile),
    werift: new SrtpSession({ keys, profile: profile as 1 }),
    weriftRtcp: new SrtcpSession({ keys, profile: profile as 1 }),
  };
}

function rtp(seq: number, payloadLength: number, extension = false, ssrc = 0x1234abcd): Buffer {
  const header = new RtpHeader({ payloadType: 0, sequenceNumber: seq, timestamp: seq * 160, ssrc, marker: false });
  if (extension) {
    header.extension = true;
    header.extensionProfile = 0xbede;
    header.extensions = [{ id: 1, payload: Buffer.from([0x30]) }];
  }
  return new RtpPacket(header, randomBytes(payloadLength)).serialize();
}

function withRoom(packet: Buffer, spare: number): Buffer {
  const out = Buffer.alloc(packet.length + spare);
  packet.copy(out);
  return out;
}

for (const [name, profile] of [
  ['AES_CM_128_HMAC_SHA1_80', SRTP_AES128_CM_HMAC_SHA1_80],
  ['AEAD_AES_128_GCM', SRTP_AEAD_AES_128_GCM],
] as const) {
  describe(`SRTP ${name}`, () => {
    it('decrypts what werift encrypts and werift decrypts what it encrypts, across payload sizes and a sequence wrap', () => {
      const { ours, werift } = pair(profile);
      const rx = ours();
      const tx = ours();
      for (const [i, seq] of [65530, 65531, 65535, 0, 1, 2, 100].entries()) {
        const plain = rtp(seq, [0, 1, 15, 16, 17, 160, 1200][i]!, i % 2 === 1);
        const packet = RtpPacket.deSerialize(plain);
        const enc = werift.encrypt(packet.payload, packet.header);
        const buf = Buffer.from(enc);
        expect(rx.unprotectRtp(buf, buf.length)).toBe(plain.length);
        expect(buf.subarray(0, plain.length).equals(plain)).toBe(true);

        const out = withRoom(plain, SRTP_MAX_TRAILER);
        const n = tx.protectRtp(out, plain.length);
        expect(n).toBe(enc.length);
        expect(out.subarray(0, n).equals(enc)).toBe(true);
        expect(werift.decrypt(out.subarray(0, n)).equals(plain)).toBe(true);
      }
    });

    it('rejects a packet whose tag or payload was changed, and one too short to be RTP', () => {
      const { ours, werift } = pair(profile);
      const plain = rtp(7, 160);
      const packet = RtpPacket.deSerialize(plain);
      const enc = Buffer.from(werift.encrypt(packet.payload, packet.header));
      const badPayload = Buffer.from(enc);
      badPayload[20]! ^= 1;
      expect(ours().unprotectRtp(badPayload, badPayload.length)).toBe(-1);
      const badTag = Buffer.from(enc);
      badTag[badTag.length - 1]! ^= 0x80;
      expect(ours().unprotectRtp(badTag, badTag.length)).toBe(-1);
      expect(ours().unprotectRtp(Buffer.alloc(15), 15)).toBe(-1);
      // The untouched packet still authenticates after the failures (they left no state behind).
      const rx = ours();
      expect(rx.unprotectRtp(badPayload, badPayload.length)).toBe(-1);
      expect(rx.unprotectRtp(Buffer.from(enc), enc.length)).toBe(plain.length);
    });

    it('SRTCP both ways with werift', () => {
      const { ours, weriftRtcp } = pair(profile);
      const sr = Buffer.from('80c8000612345678' + '00'.repeat(20), 'hex');
      const enc = weriftRtcp.encrypt(sr);
      const buf = Buffer.from(enc);
      expect(ours().unprotectRtcp(buf, buf.length)).toBe(sr.length);
      expect(buf.subarray(0, sr.length).equals(sr)).toBe(true);

      const out = withRoom(sr, SRTCP_MAX_TRAILER);
      const n = ours().protectRtcp(out, sr.length);
      expect(weriftRtcp.decrypt(out.subarray(0, n)).subarray(0, sr.length).equals(sr)).toBe(true);
    });
  });
}

describe('SRTP replay protection (RFC 3711 §3.3.2)', () => {
  /** Encrypted packets of one stream, in sending order. */
  function stream(seqs: number[], ssrc = 0x1234abcd) {
    const { ours } = pair(SRTP_AES128_CM_HMAC_SHA1_80);
    const tx = ours();
    const packets = seqs.map((seq) => {
      const plain = rtp(seq, 160, false, ssrc);
      const out = withRoom(plain, SRTP_MAX_TRAILER);
      return out.subarray(0, tx.protectRtp(out, plain.length));
    });
    return { rx: ours(), packets };
  }
  const accept = (rx: SrtpContext, p: Buffer) => rx.unprotectRtp(Buffer.from(p), p.length) > 0;

  it('drops a packet received a second time, and accepts late packets inside the window once', () => {
    const { rx, packets } = stream([10, 11, 12, 13, 14]);
    expect([0, 1, 3, 4].map((i) => accept(rx, packets[i]!))).toEqual([true, true, true, true]);
    expect(accept(rx, packets[1]!)).toBe(false); // replayed
    expect(accept(rx, packets[4]!)).toBe(false); // replayed, the newest
    expect(accept(rx, packets[2]!)).toBe(true); // late but new
    expect(accept(rx, packets[2]!)).toBe(false);
  });

  it(`drops packets more than ${REPLAY_WINDOW} behind the newest, and keeps the window across a sequence wrap`, () => {
    const seqs = Array.from({ length: 140 }, (_, i) => (65500 + i) & 0xffff);
    const { rx, packets } = stream(seqs);
    expect(accept(rx, packets[0]!)).toBe(true);
    expect(accept(rx, packets[139]!)).toBe(true); // jumped ahead, across the wrap (ROC 1)
    expect(accept(rx, packets[139 - REPLAY_WINDOW]!)).toBe(false); // outside the window
    expect(accept(rx, packets[139 - REPLAY_WINDOW + 1]!)).toBe(true); // the oldest inside it
    expect(accept(rx, packets[100]!)).toBe(true);
    expect(accept(rx, packets[100]!)).toBe(false);
    expect(accept(rx, packets[139]!)).toBe(false);
  });

  it('keeps a window per SSRC: a second stream far behind the first is new, its own repeats are not', () => {
    const { ours } = pair(SRTP_AES128_CM_HMAC_SHA1_80);
    const tx = ours();
    const rx = ours();
    const protect = (seq: number, ssrc: number) => {
      const plain = rtp(seq, 160, false, ssrc);
      const out = withRoom(plain, SRTP_MAX_TRAILER);
      return Buffer.from(out.subarray(0, tx.protectRtp(out, plain.length)));
    };
    expect(accept(rx, protect(1000, 0xaaaa0001))).toBe(true);
    const other = protect(5, 0xbbbb0002);
    expect(accept(rx, other)).toBe(true);
    expect(accept(rx, other)).toBe(false);
  });

  it('drops a replayed SRTCP packet', () => {
    const { ours } = pair(SRTP_AES128_CM_HMAC_SHA1_80);
    const tx = ours();
    const rx = ours();
    const sr = Buffer.from('80c8000612345678' + '00'.repeat(20), 'hex');
    const out = withRoom(sr, SRTCP_MAX_TRAILER);
    const packet = Buffer.from(out.subarray(0, tx.protectRtcp(out, sr.length)));
    expect(rx.unprotectRtcp(Buffer.from(packet), packet.length)).toBe(sr.length);
    expect(rx.unprotectRtcp(Buffer.from(packet), packet.length)).toBe(-1);
  });
});
