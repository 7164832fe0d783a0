/**
 * Stops password guessing over SIP without letting one client lock out others.
 *
 * Failures count per (source address, username) and per connection: after `limit` failures
 * within the window, that pair (or that connection) is blocked for `blockMinutes` — its requests
 * are dropped before they cost a transaction. Nothing is ever blocked for a whole address, so a
 * guesser behind the same NAT or reverse proxy as the office, or spoofing the trunk's address
 * over UDP, blocks only the names it guessed; connections that already authenticated (or that
 * the gateway bound to a user) and trunks are never blocked by anyone's failures.
 *
 * Both tables are bounded. When the failure table is full, a new (address, username) pair is
 * treated as already at its limit (one failure blocks it), and the oldest entries are never
 * flushed to make room — a flood of spoofed failures cannot reset a guesser's count. When the
 * block table is full, the block that would end soonest makes room.
 */
import type { Source } from '../sip/index.ts';

export interface SourceGuardOptions {
  limit: number;
  blockMinutes: number;
  windowMinutes?: number;
  /** Entries in each table (failures, blocks); default 100,000. */
  maxEntries?: number;
  clock?: () => number;
}

interface Failures {
  count: number;
  /** The window these failures count in ends here (ms). */
  until: number;
}

export class SourceGuard {
  private readonly failures = new Map<string, Failures>();
  /** Blocked pair → when the block ends. In insertion order, which is the order blocks end in. */
  private readonly blocked = new Map<string, number>();
  /** How many blocked pairs each address has: the pre-transaction check reads the request only for these. */
  private readonly blockedPerAddress = new Map<string, number>();
  private readonly clock: () => number;
  private readonly maxEntries: number;
  private readonly windowMs: number;
  private lastSweep = 0;

  constructor(private readonly options: SourceGuardOptions) {
    this.clock = options.clock ?? Date.now;
    this.maxEntries = options.maxEntries ?? 100_000;
    this.windowMs = (options.windowMinutes ?? options.blockMinutes) * 60_000;
  }

  /**
   * Is this request from a blocked (address, username) pair? Cheap for everyone else: one map
   * lookup by address; `claimedUsername` (parsing the credentials) runs only for addresses with
   * blocked pairs. Connections that authenticated are never blocked by address.
   */
  blocks(source: Source, claimedUsername: () => string | undefined): boolean {
    if (!this.blockedPerAddress.has(source.address) || isTrustedFlow(source)) return false;
    const username = claimedUsername();
    return username !== undefined && this.isBlocked(source, username);
  }

  /** Is this (address, username) pair blocked? (Trusted connections never are.) */
  isBlocked(source: Source, username: string): boolean {
    if (isTrustedFlow(source)) return false;
    const key = pairKey(source.address, username);
    const until = this.blocked.get(key);
    if (until === undefined) return false;
    if (this.clock() < until) return true;
    this.unblock(key, source.address);
    return false;
  }

  /**
   * Records a failed authentication; true when this one blocked the pair. A connection that
   * reaches the limit on its own is closed (it is then gone: nothing to remember).
   */
  failed(source: Source, username: string | undefined): boolean {
    const now = this.clock();
    this.sweepNowAndThen(now);
    const flow = source.flow;
    if (flow && this.count(`flow|${flow.id}`, now) >= this.options.limit) {
      this.failures.delete(`flow|${flow.id}`);
      flow.close('too many authentication failures');
    }
    const key = pairKey(source.address, username ?? '');
    if (this.count(key, now) < this.options.limit) return false;
    this.failures.delete(key);
    this.block(key, source.address, now + this.options.blockMinutes * 60_000);
    return true;
  }

  /** The pair (and connection) authenticated: its earlier failures are forgiven. */
  succeeded(source: Source, username: string): void {
    this.failures.delete(pairKey(source.address, username));
    if (source.flow) this.failures.delete(`flow|${source.flow.id}`);
  }

  /** Sizes of the tables (both bounded by `maxEntries`). */
  get size(): { failures: number; blocked: number } {
    return { failures: this.failures.size, blocked: this.blocked.size };
  }

  /** Counts one failure for `key`; returns its count in the current window (the limit when it cannot be tracked). */
  private count(key: string, now: number): number {
    let entry = this.failures.get(key);
    if (entry && entry.until <= now) entry = undefined;
    if (!entry) {
      // Full table: a new pair is treated as at its limit, never made room for by forgetting others.
      if (this.failures.size >= this.maxEntries && !this.failures.has(key)) return this.options.limit;
      entry = { count: 0, until: now + this.windowMs };
      this.failures.set(key, entry);
    }
    entry.count += 1;
    return entry.count;
  }

  private block(key: string, address: string, until: number): void {
    if (this.blocked.has(key)) this.unblock(key, address);
    if (this.blocked.size >= this.maxEntries) {
      // The first entry is the block that ends soonest (every block lasts as long).
      const [soonestKey] = this.blocked.keys();
      if (soonestKey !== undefined) this.unblock(soonestKey, soonestKey.slice(0, soonestKey.indexOf('|')));
    }
    this.blocked.set(key, until);
    this.blockedPerAddress.set(address, (this.blockedPerAddress.get(address) ?? 0) + 1);
  }

  private unblock(key: string, address: string): void {
    if (!this.blocked.delete(key)) return;
    const n = (this.blockedPerAddress.get(address) ?? 1) - 1;
    if (n <= 0) this.blockedPerAddress.delete(address);
    else this.blockedPerAddress.set(address, n);
  }

  /** Forgets ended windows and blocks, at most once a minute (on the failure path only). */
  private sweepNowAndThen(now: number): void {
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    for (const [key, entry] of this.failures) if (entry.until <= now) this.failures.delete(key);
    for (const [key, until] of this.blocked) {
      if (until > now) break; // in the order they end
      this.unblock(key, key.slice(0, key.indexOf('|')));
    }
  }
}

/** A connection that authenticated, or that the gateway bound to a user or guest. */
export function isTrustedFlow(source: Source): boolean {
  return source.flow !== undefined && (source.flow.authenticated === true || source.flow.identity !== undefined);
}

function pairKey(address: string, username: string): string {
  return `${address}|${username.toLowerCase()}`;
}
