import { describe, expect, it } from 'vitest';
import { ReceiveStats, RttProbe } from './rtp-stats.ts';

describe('receive statistics (RFC 3550 A.1, A.8)', () => {
  it('counts lost packets across a sequence wrap, and a new source from scratch', () => {
    const s = new ReceiveStats();
    let t = 0;
    for (const seq of [65533, 65534, 0, 3, 4]) s.onPacket(1, seq, seq * 160, 8000, (t += 20));
    expect(s.packets).toBe(5);
    expect(s.lost).toBe(3); // 65535, 1, 2
    for (const seq of [10, 11, 13]) s.onPacket(2, seq, seq * 160, 8000, (t += 20));
    expect(s.lost).toBe(4);
  });

  it('has no jitter for perfectly paced packets and some for uneven ones', () => {
    const even = new ReceiveStats();
    const uneven = new ReceiveStats();
    for (let i = 0; i < 50; i++) {
      even.onPacket(1, i, i * 160, 8000, 1000 + i * 20);
      uneven.onPacket(1, i, i * 160, 8000, 1000 + i * 20 + (i % 2) * 8);
    }
    expect(even.jitterMs).toBe(0);
    expect(uneven.jitterMs!).toBeGreaterThan(3);
  });

  it('gives the round trip from a receiver report answering a relayed sender report', () => {
    const probe = new RttProbe();
    probe.srForwarded(0x12345678, 1000);
    expect(probe.rrReceived(0x12345678, 65536 / 100, 1050)).toBeCloseTo(40); // 50 ms minus 10 ms held
    expect(probe.rrReceived(0x1, 0, 1050)).toBeNull();
  });
});
