/**
 * Users as SIP sees them: found by SIP username or extension (one unique `sip_identities` name,
 * so a name means one user), with their device password's HA1 values for digest authentication,
 * and the dialling rule for calls out through a trunk.
 */
import type { DigestHa1 } from '../sip/index.ts';
import { TtlCache } from '../shared/ttl-cache.ts';
import type { Store, User } from '../store/index.ts';
import { deviceHa1 } from '../users/index.ts';

export class SipUsers {
  /** Every call and registration looks users up, often twice: a few seconds of memory saves the queries. */
  private readonly cache: TtlCache<string, User | undefined>;

  constructor(
    private readonly store: Store,
    options: { ttlMs?: number; clock?: () => number } = {},
  ) {
    this.cache = new TtlCache(options.ttlMs ?? 5000, 10_000, options.clock);
  }

  /** `alice`, `ALICE` or `1001`: the user this SIP identity names, if enabled. */
  async find(identity: string): Promise<User | undefined> {
    const name = identity.trim();
    if (!name || name.length > 64) return undefined;
    const key = name.toLowerCase();
    const user = await this.cache.getOrLoad(key, () =>
      this.store.db
        .selectFrom('sip_identities')
        .innerJoin('users', 'users.id', 'sip_identities.user_id')
        .selectAll('users')
        .where('sip_identities.name', '=', key)
        .executeTakeFirst(),
    );
    return user && !user.disabled ? user : undefined;
  }

  /** Forget cached users (after a user's SIP settings changed on this node). */
  invalidate(): void {
    this.cache.clear();
  }

  async byId(id: string): Promise<User | undefined> {
    return this.store.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** A DID's targets, written as emails, SIP usernames or extensions. */
  async resolve(names: string[]): Promise<User[]> {
    const out: User[] = [];
    for (const n of names) {
      const user = n.includes('@')
        ? await this.store.db.selectFrom('users').selectAll().where('email', '=', n.toLowerCase()).executeTakeFirst()
        : await this.find(n);
      if (user && !user.disabled && !out.some((u) => u.id === user.id)) out.push(user);
    }
    return out;
  }

  /** The device password's HA1 values for the name a phone signs in with (username or extension). */
  async ha1Of(identity: string): Promise<{ user: User; ha1: DigestHa1 } | undefined> {
    const user = await this.find(identity);
    const ha1 = user && deviceHa1(user, identity.trim());
    return user && ha1 ? { user, ha1 } : undefined;
  }
}
