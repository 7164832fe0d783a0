/**
 * Per-user call limits (security review #23, toll fraud #10): how many calls one user may have in
 * progress at once, and how many new ones they may place per minute. One stolen device password
 * (or one script) must not exhaust the relay's ports for everyone, nor dial a trunk thousands of
 * times. Both checks are O(1) per call and in memory: a call's INVITE gets no extra query.
 *
 * The rate is a token bucket per user (`ratePerMinute` tokens, refilled continuously), so a burst
 * of a few calls is fine and a sustained flood is not. Users with nothing in progress and a full
 * bucket are forgotten, so the table holds only the users active in the last minute or so.
 *
 * The limits are per process: on the multi-node path each node counts its own calls.
 */

export interface CallLimitOptions {
  /** Calls in progress per user; 0 = no limit. */
  maxConcurrent: number;
  /** New calls per user per minute; 0 = no limit. */
  ratePerMinute: number;
  clock?: () => number;
}

/** A call admitted under the limits: release it once, when the call is over. */
export interface CallSlot {
  release(): void;
}

export type Admission = { admitted: true; slot: CallSlot } | { admitted: false; reason: string; retryAfterS: number };

interface UserCalls {
  active: number;
  tokens: number;
  /** When `tokens` was last brought up to date. */
  at: number;
}

const MINUTE_MS = 60_000;

/** Both limits off (load tests, trunks as users): nothing to count. */
const UNLIMITED: Admission = { admitted: true, slot: { release() {} } };

export class CallLimits {
  private readonly users = new Map<string, UserCalls>();
  private readonly clock: () => number;
  private lastPrune: number;

  constructor(private readonly options: CallLimitOptions) {
    this.clock = options.clock ?? Date.now;
    this.lastPrune = this.clock();
  }

  /** Takes a slot for a new call of this user, or says why not and when to try again. */
  admit(userId: string): Admission {
    const { maxConcurrent, ratePerMinute } = this.options;
    if (maxConcurrent === 0 && ratePerMinute === 0) return UNLIMITED;
    const now = this.clock();
    this.pruneIfDue(now);
    const state = this.stateOf(userId, now);
    if (maxConcurrent > 0 && state.active >= maxConcurrent) {
      // Nothing says when a call in progress ends: a minute is a fair guess for a retry.
      return { admitted: false, reason: `Too many calls in progress (limit ${maxConcurrent})`, retryAfterS: 60 };
    }
    if (ratePerMinute > 0) {
      if (state.tokens < 1) {
        const retryAfterS = Math.max(1, Math.ceil(((1 - state.tokens) * MINUTE_MS) / ratePerMinute / 1000));
        return { admitted: false, reason: `Too many new calls (limit ${ratePerMinute} a minute)`, retryAfterS };
      }
      state.tokens -= 1;
    }
    state.active++;
    let released = false;
    return {
      admitted: true,
      slot: {
        release: () => {
          if (released) return;
          released = true;
          // The entry may have been pruned meanwhile only if it had nothing active: it cannot have.
          const s = this.users.get(userId);
          if (s && s.active > 0) s.active--;
        },
      },
    };
  }

  /** Users tracked now (for tests and metrics). */
  get size(): number {
    return this.users.size;
  }

  private stateOf(userId: string, now: number): UserCalls {
    const rate = this.options.ratePerMinute;
    let state = this.users.get(userId);
    if (!state) {
      state = { active: 0, tokens: rate, at: now };
      this.users.set(userId, state);
      return state;
    }
    if (rate > 0) {
      state.tokens = Math.min(rate, state.tokens + ((now - state.at) * rate) / MINUTE_MS);
    }
    state.at = now;
    return state;
  }

  /** At most once a minute: forgets users with no call in progress whose bucket is full again. */
  private pruneIfDue(now: number): void {
    if (now - this.lastPrune < MINUTE_MS) return;
    this.lastPrune = now;
    for (const [userId, state] of this.users) {
      if (state.active === 0 && now - state.at >= MINUTE_MS) this.users.delete(userId);
    }
  }
}
