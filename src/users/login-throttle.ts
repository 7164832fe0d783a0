/**
 * Login rate limits: failed attempts per account and per client address, in a sliding window.
 * An attempt is counted as a failure *before* the password is checked (`reserve`), and taken back
 * if it succeeds: password hashing takes ~100 ms, and concurrent guesses must all meet the limit
 * rather than all pass a check that none of them has counted yet.
 * Only failures count, so a whole office behind one NAT address signing in at 9:00 is never
 * blocked, while guessing — at one account, or at many from one address — is. Kept in memory: a node that restarts forgets, which errs towards letting a user in, and
 * an attacker spreading attempts over nodes still meets each node's limit.
 */
export interface LoginThrottleOptions {
  maxFailuresPerAccount: number;
  maxFailuresPerIp: number;
  windowMinutes: number;
  clock?: () => number;
}

export type ThrottleVerdict = { allowed: true } | { allowed: false; reason: 'account' | 'ip'; retryAfterS: number };

/** A reserved attempt: counted as a failure unless `succeeded()` is called. */
export interface LoginAttempt {
  succeeded(): void;
}

export class LoginThrottle {
  private readonly failures = new Map<string, number[]>();
  private readonly failuresByIp = new Map<string, number[]>();
  private readonly clock: () => number;

  constructor(private readonly options: LoginThrottleOptions) {
    this.clock = options.clock ?? Date.now;
  }

  check(account: string, ip: string): ThrottleVerdict {
    const now = this.clock();
    const byIp = this.recent(this.failuresByIp, ip, now);
    if (byIp.length >= this.options.maxFailuresPerIp) return { allowed: false, reason: 'ip', retryAfterS: this.retryAfter(byIp, now) };
    const byAccount = this.recent(this.failures, account.toLowerCase(), now);
    if (byAccount.length >= this.options.maxFailuresPerAccount) {
      return { allowed: false, reason: 'account', retryAfterS: this.retryAfter(byAccount, now) };
    }
    return { allowed: true };
  }

  /**
   * Checks the limits and, when allowed, counts this attempt as a failure at once (synchronously:
   * no other request can slip in between the check and the count).
   */
  reserve(account: string, ip: string): { allowed: true; attempt: LoginAttempt } | Extract<ThrottleVerdict, { allowed: false }> {
    const verdict = this.check(account, ip);
    if (!verdict.allowed) return verdict;
    const at = this.clock();
    const key = account.toLowerCase();
    this.push(this.failures, key, at);
    this.push(this.failuresByIp, ip, at);
    return {
      allowed: true,
      attempt: {
        // A good password clears the account's failures, and this attempt no longer counts against the address.
        succeeded: () => {
          this.failures.delete(key);
          const list = this.failuresByIp.get(ip);
          const i = list?.lastIndexOf(at) ?? -1;
          if (list && i >= 0) list.splice(i, 1);
          if (list?.length === 0) this.failuresByIp.delete(ip);
        },
      },
    };
  }

  failed(account: string, ip: string): void {
    this.push(this.failures, account.toLowerCase());
    this.push(this.failuresByIp, ip);
  }

  succeeded(account: string): void {
    this.failures.delete(account.toLowerCase());
  }

  private push(map: Map<string, number[]>, key: string, now = this.clock()): void {
    const list = this.recent(map, key, now);
    list.push(now);
    map.set(key, list);
    if (map.size > 100_000) this.sweep(map, now);
  }

  private recent(map: Map<string, number[]>, key: string, now: number): number[] {
    const windowMs = this.options.windowMinutes * 60_000;
    const list = (map.get(key) ?? []).filter((t) => now - t < windowMs);
    if (list.length === 0) map.delete(key);
    return list;
  }

  private retryAfter(list: number[], now: number): number {
    return Math.max(1, Math.ceil((list[0]! + this.options.windowMinutes * 60_000 - now) / 1000));
  }

  private sweep(map: Map<string, number[]>, now: number): void {
    for (const key of [...map.keys()]) this.recent(map, key, now);
  }
}
