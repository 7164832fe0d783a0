/**
 * Blocks addresses that keep failing SIP authentication (password guessing, toll-fraud scanners):
 * after `limit` failures within the window, every request from that address is dropped for
 * `blockMinutes`. Addresses that authenticate successfully are never blocked by others' failures.
 */
export class SourceGuard {
  private readonly failures = new Map<string, number[]>();
  private readonly blocked = new Map<string, number>();
  private readonly clock: () => number;

  constructor(private readonly options: { limit: number; blockMinutes: number; windowMinutes?: number; clock?: () => number }) {
    this.clock = options.clock ?? Date.now;
  }

  isBlocked(address: string): boolean {
    const until = this.blocked.get(address);
    if (until === undefined) return false;
    if (this.clock() < until) return true;
    this.blocked.delete(address);
    return false;
  }

  /** Records a failure; true when this one blocked the address. */
  failed(address: string): boolean {
    const now = this.clock();
    const windowMs = (this.options.windowMinutes ?? this.options.blockMinutes) * 60_000;
    const list = (this.failures.get(address) ?? []).filter((t) => now - t < windowMs);
    list.push(now);
    this.failures.set(address, list);
    if (this.failures.size > 100_000) this.failures.clear();
    if (list.length >= this.options.limit) {
      this.failures.delete(address);
      this.blocked.set(address, now + this.options.blockMinutes * 60_000);
      return true;
    }
    return false;
  }

  succeeded(address: string): void {
    this.failures.delete(address);
  }
}
