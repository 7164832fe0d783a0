/**
 * Web sessions. The cookie holds a random token; the database holds only its SHA-256, the user, a
 * CSRF token and the lifetimes (idle and absolute). Kept in the database so any node can serve any
 * request and an admin can revoke a session everywhere at once.
 */
import { createHash, randomBytes } from 'node:crypto';
import { nowIso, type Session, type Store, type User } from '../store/index.ts';

export interface SessionOptions {
  idleMinutes: number;
  maxHours: number;
  clock?: () => number;
}

export interface ActiveSession {
  session: Session;
  user: User;
}

/** Don't write `last_seen_at` on every request: once a minute is precise enough for an idle timeout. */
const TOUCH_INTERVAL_MS = 60_000;

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

export class SessionStore {
  private readonly clock: () => number;

  constructor(
    private readonly store: Store,
    private readonly options: SessionOptions,
  ) {
    this.clock = options.clock ?? Date.now;
  }

  async create(userId: string, meta: { ip?: string; userAgent?: string } = {}): Promise<{ token: string; session: Session }> {
    const token = randomBytes(32).toString('base64url');
    const now = this.clock();
    const session: Session = {
      id: hashToken(token),
      user_id: userId,
      csrf_token: randomBytes(24).toString('base64url'),
      created_at: nowIso(() => now),
      last_seen_at: nowIso(() => now),
      expires_at: nowIso(() => now + this.options.maxHours * 3_600_000),
      ip: meta.ip ?? null,
      user_agent: meta.userAgent?.slice(0, 300) ?? null,
      revoked_at: null,
    };
    await this.store.db.insertInto('sessions').values(session).execute();
    return { token, session };
  }

  /** The live session of this cookie token, or undefined (unknown, revoked, expired, idle too long, user disabled). */
  async resolve(token: string): Promise<ActiveSession | undefined> {
    if (!token || token.length > 100) return undefined;
    return this.resolveId(hashToken(token));
  }

  /** The user of a live session, by the session's id (for tokens that name a session). */
  async userOfSession(sessionId: string): Promise<User | undefined> {
    return (await this.resolveId(sessionId))?.user;
  }

  private async resolveId(id: string): Promise<ActiveSession | undefined> {
    const session = await this.store.db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
    if (!session || session.revoked_at) return undefined;
    const now = this.clock();
    if (Date.parse(session.expires_at) <= now) return undefined;
    const lastSeen = Date.parse(session.last_seen_at);
    if (now - lastSeen > this.options.idleMinutes * 60_000) return undefined;
    const user = await this.store.db.selectFrom('users').selectAll().where('id', '=', session.user_id).executeTakeFirst();
    if (!user || user.disabled) return undefined;
    if (now - lastSeen > TOUCH_INTERVAL_MS) {
      await this.store.db.updateTable('sessions').set({ last_seen_at: nowIso(() => now) }).where('id', '=', session.id).execute();
    }
    return { session, user };
  }

  async revoke(sessionId: string): Promise<void> {
    await this.store.db
      .updateTable('sessions')
      .set({ revoked_at: nowIso(this.clock) })
      .where('id', '=', sessionId)
      .where('revoked_at', 'is', null)
      .execute();
  }

  /** Forget sessions that ended long ago (run now and then). */
  async prune(): Promise<void> {
    const cutoff = nowIso(() => this.clock() - 7 * 86_400_000);
    await this.store.db.deleteFrom('sessions').where('expires_at', '<', cutoff).execute();
  }
}
