import { describe, expect, it } from 'vitest';
import { bridgeableCodecs, pairAnswer } from './codecs.ts';
import { bridgedLines, keepOnlyBridged } from './offer-checks.ts';
import { direction, parseSdp, rtpMaps, writeSdp } from './sdp.ts';
import { RelayError } from './types.ts';

const PHONE = [
  'v=0',
  'o=- 1 1 IN IP4 192.0.2.10',
  's=-',
  'c=IN IP4 192.0.2.10',
  't=0 0',
  'm=audio 4000 RTP/AVP 18 0 8 9 101',
  'a=rtpmap:18 G729/8000',
  'a=fmtp:18 annexb=no',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-16',
  'a=sendonly',
  '',
].join('\r\n');

describe('SDP and codec rules', () => {
  it('reads static payload types without rtpmap, fmtp, and the direction', () => {
    const sdp = parseSdp(PHONE);
    const maps = rtpMaps(sdp.media[0]!);
    expect(maps.map((m) => `${m.payloadType} ${m.name}/${m.clockRate}`)).toEqual(['18 G729/8000', '0 PCMU/8000', '8 PCMA/8000', '9 G722/8000', '101 telephone-event/8000']);
    expect(maps[4]!.fmtp).toBe('0-16');
    expect(direction(sdp.media[0]!, sdp)).toBe('sendonly');
  });

  it('bridges only codecs both sides can share, and never telephone-event alone', () => {
    const maps = rtpMaps(parseSdp(PHONE).media[0]!);
    expect(bridgeableCodecs('audio', maps).map((m) => m.name)).toEqual(['PCMU', 'PCMA', 'G722', 'telephone-event']);
    expect(bridgeableCodecs('audio', maps.filter((m) => m.name === 'telephone-event' || m.name === 'G729'))).toEqual([]);
  });

  it('strips what it does not bridge from the SDP it hands on', () => {
    const sdp = parseSdp(PHONE);
    const text = writeSdp(keepOnlyBridged(sdp, bridgedLines(sdp, 'rtp', 'offer')));
    expect(text).toMatch(/^m=audio 4000 RTP\/AVP 0 8 9 101\r$/m);
    expect(text).not.toMatch(/G729|annexb/);
    expect(text).toMatch(/a=fmtp:101 0-16/);
  });

  it('pairs an answer with the offer by codec, whatever the payload numbers', () => {
    const offered = rtpMaps(parseSdp(PHONE).media[0]!);
    const answered = rtpMaps(parseSdp(PHONE.replace('m=audio 4000 RTP/AVP 18 0 8 9 101', 'm=audio 4000 RTP/AVP 8 96').replace('a=rtpmap:101', 'a=rtpmap:96')).media[0]!);
    expect(pairAnswer(offered, answered).map((p) => [p.offered.payloadType, p.answered.payloadType])).toEqual([
      [8, 8],
      [101, 96],
    ]);
  });

  it('refuses garbage, oversize and media-less SDP with 488', () => {
    for (const bad of ['', 'hello', 'v=1\r\n', `${PHONE}a=x:${'y'.repeat(65 * 1024)}\r\n`, 'v=0\r\nm=audio x RTP/AVP 0\r\n', 'v=0\r\nm=audio 70000 RTP/AVP 0\r\n']) {
      expect(() => bridgedLines(parseSdp(bad), 'rtp', 'offer')).toThrow(RelayError);
    }
    expect(() => bridgedLines(parseSdp('v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\n'), 'rtp', 'offer')).toThrow(/no audio or video/);
  });
});
