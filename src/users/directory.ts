/**
 * The user directory: Ringside's own users (salespeople and admins), their login password and
 * their SIP identity (username, extension and device password for desk phones and softphones).
 */
import { randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { isUniqueViolation, newId, nowIso, type Database, type Store, type User } from '../store/index.ts';
import { AppError, NotFoundError, ValidationError } from '../shared/errors.ts';
import { dummyHash, hashPassword, verifyPassword } from './passwords.ts';
import type { UserInput, UserView } from './schemas.ts';

export class UserDirectory {
  constructor(
    private readonly store: Store,
    private readonly clock: () => number = Date.now,
  ) {}

  /** `db`: a transaction to create the user in (single sign-on creates the user and its identity together). */
  async create(input: UserInput & { sip_password?: string; sip_username?: string }, db: Kysely<Database> = this.store.db): Promise<UserView> {
    const email = input.email.trim().toLowerCase();
    if (input.time_zone && !isTimeZone(input.time_zone)) throw new ValidationError('time_zone', 'Not a known time zone (e.g. Europe/Berlin)');
    const now = nowIso(this.clock);
    const sipUsername = input.sip_username ?? (await this.freeSipUsername(email, db));
    try {
      const id = newId();
      await db
        .insertInto('users')
        .values({
          id,
          email,
          name: input.name.trim(),
          role: input.role ?? 'user',
          password_hash: await hashPassword(input.password),
          extension: input.extension ?? null,
          sip_username: sipUsername,
          sip_password: input.sip_password ?? randomBytes(12).toString('base64url'),
          time_zone: input.time_zone ?? 'UTC',
          allowed_prefixes: null,
          disabled: 0,
          created_at: now,
          updated_at: now,
        })
        .execute();
      return this.view((await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst())!);
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      if (db !== this.store.db) throw new AppError(409, 'duplicate', 'A user with this email or extension already exists');
      if (await this.findByEmail(email)) throw new AppError(409, 'duplicate', 'A user with this email already exists', 'email');
      throw new AppError(409, 'duplicate', 'This extension is already taken', 'extension');
    }
  }

  async list(): Promise<UserView[]> {
    const rows = await this.store.db.selectFrom('users').selectAll().orderBy('name').execute();
    return rows.map((r) => this.view(r));
  }

  get(id: string): Promise<User | undefined> {
    return this.store.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  }

  findByEmail(email: string): Promise<User | undefined> {
    return this.store.db.selectFrom('users').selectAll().where('email', '=', email.trim().toLowerCase()).executeTakeFirst();
  }

  async count(): Promise<number> {
    const row = await this.store.db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** The user when the password is right and the account enabled; undefined otherwise (same cost either way). */
  async authenticate(email: string, password: string): Promise<User | undefined> {
    const user = await this.findByEmail(email);
    const ok = await verifyPassword(password, user?.password_hash ?? (await dummyHash()));
    return ok && user && !user.disabled ? user : undefined;
  }

  async changePassword(userId: string, current: string, next: string): Promise<void> {
    const user = await this.get(userId);
    if (!user) throw new NotFoundError('User');
    if (!(await verifyPassword(current, user.password_hash))) {
      throw new ValidationError('current_password', 'The current password is not right');
    }
    await this.store.db
      .updateTable('users')
      .set({ password_hash: await hashPassword(next), updated_at: nowIso(this.clock), version: sql`version + 1` })
      .where('id', '=', userId)
      .execute();
  }

  /** A new device password (generated when none is given); returns it. */
  async setSipPassword(userId: string, password?: string): Promise<string> {
    const value = password ?? randomBytes(12).toString('base64url');
    if (value.length < 8 || value.length > 64 || /[\s"\\]/.test(value)) {
      throw new ValidationError('sip_password', 'A device password needs 8 to 64 characters, without spaces, quotes or backslashes');
    }
    await this.store.db
      .updateTable('users')
      .set({ sip_password: value, updated_at: nowIso(this.clock), version: sql`version + 1` })
      .where('id', '=', userId)
      .execute();
    return value;
  }

  view(u: User): UserView {
    return {
      id: u.id,
      email: u.email,
      name: u.name,
      role: u.role,
      extension: u.extension,
      sip_username: u.sip_username,
      time_zone: u.time_zone,
      disabled: Boolean(u.disabled),
      created_at: u.created_at,
    };
  }

  /** `jane.doe@acme.com` → `jane.doe`, or `jane.doe2` … when taken. */
  private async freeSipUsername(email: string, db: Kysely<Database>): Promise<string> {
    const base = email.split('@')[0]!.replace(/[^a-z0-9._-]/g, '').slice(0, 32) || 'user';
    for (let i = 1; ; i++) {
      const candidate = i === 1 ? base : `${base}${i}`;
      const taken = await db.selectFrom('users').select('id').where('sip_username', '=', candidate).executeTakeFirst();
      if (!taken) return candidate;
    }
  }
}

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}
