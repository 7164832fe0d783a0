import { randomBytes } from 'node:crypto';
import { RtpHeader, RtpPacket, SrtcpSession, SrtpSession } from 'werift';
import { describe, expect, it } from 'vitest';
import { SRTP_AES128_CM_HMAC_SHA1_80, SrtpContext } from './srtp.ts';

/** werift's SRTP (node:crypto per packet) is the reference: ours must interoperate with it both ways. */
function pair() {
  const key = randomBytes(16);
  const salt = randomBytes(14);
  const keys = { localMasterKey: key, localMasterSalt: salt, remoteMasterKey: key, remoteMasterSalt: salt };
  return {
    ours: () => new SrtpContext(key, salt),
    werift: new SrtpSession({ keys, profile: SRTP_AES128_CM_HMAC_SHA1_80 }),
    weriftRtcp: new SrtcpSession({ keys, profile: SRTP_AES128_CM_HMAC_SHA1_80 }),
  };
}

function rtp(seq: number, payloadLength: number, extension = false): Buffer {
  const header = new RtpHeader({ payloadType: 0, sequenceNumber: seq, timestamp: seq * 160, ssrc: 0x1234abcd, marker: false });
  if (extension) {
    header.extension = true;
    header.extensionProfile = 0xbede;
    header.extensions = [{ id: 1, payload: Buffer.from([0x30]) }];
  }
  return new RtpPacket(header, randomBytes(payloadLength)).serialize();
}

describe('SRTP AES_CM_128_HMAC_SHA1_80', () => {
  it('decrypts what werift encrypts and werift decrypts what it encrypts, across payload sizes and a sequence wrap', () => {
    const { ours, werift } = pair();
    const rx = ours();
    const tx = ours();
    for (const [i, seq] of [65530, 65531, 65535, 0, 1, 2, 100].entries()) {
      const plain = rtp(seq, [0, 1, 15, 16, 17, 160, 1200][i]!, i % 2 === 1);
      const packet = RtpPacket.deSerialize(plain);
      const enc = werift.encrypt(packet.payload, packet.header);
      const buf = Buffer.from(enc);
      expect(rx.unprotectRtp(buf, buf.length)).toBe(plain.length);
      expect(buf.subarray(0, plain.length).equals(plain)).toBe(true);

      const out = Buffer.alloc(plain.length + 10);
      plain.copy(out);
      expect(tx.protectRtp(out, plain.length)).toBe(enc.length);
      expect(out.equals(enc)).toBe(true);
      expect(werift.decrypt(out).equals(plain)).toBe(true);
    }
  });

  it('rejects a packet whose tag does not match, and one too short to be RTP', () => {
    const { ours, werift } = pair();
    const plain = rtp(7, 160);
    const packet = RtpPacket.deSerialize(plain);
    const enc = Buffer.from(werift.encrypt(packet.payload, packet.header));
    enc[20]! ^= 1;
    expect(ours().unprotectRtp(enc, enc.length)).toBe(-1);
    expect(ours().unprotectRtp(Buffer.alloc(15), 15)).toBe(-1);
  });

  it('SRTCP both ways with werift', () => {
    const { ours, weriftRtcp } = pair();
    const sr = Buffer.from('80c8000612345678' + '00'.repeat(20), 'hex');
    const enc = weriftRtcp.encrypt(sr);
    const buf = Buffer.from(enc);
    expect(ours().unprotectRtcp(buf, buf.length)).toBe(sr.length);
    expect(buf.subarray(0, sr.length).equals(sr)).toBe(true);

    const out = Buffer.alloc(sr.length + 14);
    sr.copy(out);
    const n = ours().protectRtcp(out, sr.length);
    expect(weriftRtcp.decrypt(out.subarray(0, n)).subarray(0, sr.length).equals(sr)).toBe(true);
  });
});
