import { describe, expect, it } from 'vitest';
import { CallLimits } from './call-limits.ts';

describe('per-user call limits (bookkeeping)', () => {
  it('forgets users with nothing in progress once their rate has refilled: the table stays bounded', () => {
    let now = 0;
    const limits = new CallLimits({ maxConcurrent: 2, ratePerMinute: 10, clock: () => now });
    for (let i = 0; i < 10_000; i++) {
      const a = limits.admit(`user-${i}`);
      if (a.admitted) a.slot.release();
    }
    expect(limits.size).toBe(10_000);
    now += 61_000;
    const kept = limits.admit('busy-user');
    expect(kept.admitted).toBe(true);
    expect(limits.size).toBe(1); // only the one with a call in progress is left
  });

  it('a slot released twice frees one place only', () => {
    const limits = new CallLimits({ maxConcurrent: 1, ratePerMinute: 0 });
    const first = limits.admit('u');
    expect(first.admitted).toBe(true);
    if (!first.admitted) return;
    first.slot.release();
    first.slot.release();
    const a = limits.admit('u');
    expect(a.admitted).toBe(true);
    expect(limits.admit('u')).toMatchObject({ admitted: false, reason: 'Too many calls in progress (limit 1)' });
  });

  it('keeps nothing when both limits are off (load tests, trunks as users)', () => {
    const limits = new CallLimits({ maxConcurrent: 0, ratePerMinute: 0 });
    for (let i = 0; i < 1000; i++) expect(limits.admit('bench').admitted).toBe(true);
    expect(limits.size).toBe(0);
  });
});
