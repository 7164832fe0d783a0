/**
 * Web sessions. The cookie holds a random token; the database holds only its SHA-256, the user, a
 * CSRF token and the lifetimes (idle and absolute). Kept in the database so any node can serve any
 * request and an admin can revoke a session everywhere at once.
 */
import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
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

/** A session as its user (or an admin) sees it in a list. */
export interface SessionInfo {
  id: string;
  user_id: string;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
  ip: string | null;
  user_agent: string | null;
  /** The single sign-on provider it was signed in with; null for a password sign-in. */
  provider_id: string | null;
}

export interface SessionEvents {
  /** Sessions that just ended by revocation: whatever they hold open (SIP WebSockets) must close. */
  revoked: [sessionIds: string[]];
}

export class SessionStore extends EventEmitter<SessionEvents> {
  private readonly clock: () => number;

  constructor(
    private readonly store: Store,
    private readonly options: SessionOptions,
  ) {
    super();
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
    this.emit('revoked', [sessionId]);
  }

  /**
   * How a session was signed in — with a single sign-on provider (its id) or with the password
   * (null) — and how long ago the user was checked: a recent sign-in with a provider stands in
   * for the password. For a provider that is when it last asked for the password (the ID token's
   * `auth_time`), not when the session began — a provider whose session is still alive signs in
   * without asking; `ageMs` is undefined when the provider did not say.
   */
  async signInOf(session: Session): Promise<{ providerId: string | null; ageMs: number | undefined }> {
    const sso = await this.store.db.selectFrom('sso_sessions').select(['provider_id', 'auth_time']).where('session_id', '=', session.id).executeTakeFirst();
    const checkedAt = sso ? sso.auth_time : session.created_at;
    return { providerId: sso?.provider_id ?? null, ageMs: checkedAt ? this.clock() - Date.parse(checkedAt) : undefined };
  }

  /** Ends every session of a user (an admin's "sign out everywhere"); returns how many were live. */
  async revokeAllOf(userId: string): Promise<number> {
    const ids = (await this.listOf(userId)).map((s) => s.id);
    if (ids.length === 0) return 0;
    await this.store.db.updateTable('sessions').set({ revoked_at: nowIso(this.clock) }).where('id', 'in', ids).where('revoked_at', 'is', null).execute();
    this.emit('revoked', ids);
    return ids.length;
  }

  /** A user's live sessions, most recently used first. */
  async listOf(userId: string): Promise<SessionInfo[]> {
    const now = this.clock();
    const rows = await this.store.db
      .selectFrom('sessions')
      .leftJoin('sso_sessions', 'sso_sessions.session_id', 'sessions.id')
      .select(['sessions.id', 'sessions.user_id', 'sessions.created_at', 'sessions.last_seen_at', 'sessions.expires_at', 'sessions.ip', 'sessions.user_agent', 'sso_sessions.provider_id'])
      .where('sessions.user_id', '=', userId)
      .where('sessions.revoked_at', 'is', null)
      .where('sessions.expires_at', '>', nowIso(() => now))
      .where('sessions.last_seen_at', '>=', nowIso(() => now - this.options.idleMinutes * 60_000))
      .orderBy('sessions.last_seen_at', 'desc')
      .execute();
    return rows.map((r) => ({ ...r, provider_id: r.provider_id ?? null }));
  }

  /** The owner of a session, live or not (to check who may revoke it). */
  async ownerOf(sessionId: string): Promise<string | undefined> {
    const row = await this.store.db.selectFrom('sessions').select('user_id').where('id', '=', sessionId).executeTakeFirst();
    return row?.user_id;
  }

  /**
   * Which of these sessions are still live — without counting as activity (a WebSocket held open
   * is not a request: it must not keep a session from going idle).
   */
  async liveIds(ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const now = this.clock();
    const rows = await this.store.db
      .selectFrom('sessions')
      .innerJoin('users', 'users.id', 'sessions.user_id')
      .select('sessions.id')
      .where('sessions.id', 'in', ids)
      .where('sessions.revoked_at', 'is', null)
      .where('users.disabled', '=', 0)
      .where('sessions.expires_at', '>', nowIso(() => now))
      .where('sessions.last_seen_at', '>=', nowIso(() => now - this.options.idleMinutes * 60_000))
      .execute();
    return new Set(rows.map((r) => r.id));
  }

  /** Forget sessions that ended long ago (run now and then). */
  async prune(): Promise<void> {
    const cutoff = nowIso(() => this.clock() - 7 * 86_400_000);
    await this.store.db.deleteFrom('sessions').where('expires_at', '<', cutoff).execute();
  }
}
