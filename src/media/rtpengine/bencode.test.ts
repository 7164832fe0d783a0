import { describe, expect, it } from 'vitest';
import { decode, encode } from './bencode.ts';

describe('bencode', () => {
  it('encodes what rtpengine expects: sorted keys, byte lengths, nested lists', () => {
    expect(encode({ command: 'ping' }).toString()).toBe('d7:command4:pinge');
    expect(encode({ 'rtcp-mux': ['demux'], ICE: 'remove', n: 3 }).toString()).toBe('d3:ICE6:remove1:ni3e8:rtcp-muxl5:demuxee');
    expect(encode('é').toString('latin1')).toBe('2:\u00c3\u00a9');
  });

  it('decodes replies and round-trips', () => {
    expect(decode(Buffer.from('d6:result4:ponge'))).toEqual({ result: 'pong' });
    const value = { sdp: 'v=0\r\n', tags: { a: { medias: [{ streams: [{ stats: { packets: 75 } }] }] } }, n: -4 };
    expect(decode(encode(value))).toEqual(value);
  });

  it('refuses malformed input instead of guessing', () => {
    for (const bad of ['', 'd', '5:abc', 'i12', 'ix1e', 'd1:ae', 'l'.repeat(100), 'd6:result4:pongeX', '99999999999:a']) {
      expect(() => decode(Buffer.from(bad)), bad).toThrow(SyntaxError);
    }
  });
});
