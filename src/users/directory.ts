/**
 * The user directory: Ringside's own users (salespeople and admins), their login password and
 * their SIP identity (username, extension and device password for desk phones and softphones),
 * and the administrator's switch that disables an account.
 */
import os from 'node:os';
import { sql, type Kysely } from 'kysely';
import { isUniqueViolation, newId, nowIso, type Database, type Store, type User } from '../store/index.ts';
import { AppError, NotFoundError, ValidationError } from '../shared/errors.ts';
import { dummyHash, hashPassword, verifyPassword } from './passwords.ts';
import { deviceCredentialColumns, generateDevicePassword } from './device-passwords.ts';
import type { UserInput, UserView } from './schemas.ts';

/** A user just created, with the device password generated for them: shown once, never stored. */
export type CreatedUser = UserView & { device_password: string };

export class UserDirectory {
  constructor(
    private readonly store: Store,
    private readonly clock: () => number = Date.now,
    /** The digest realm device passwords are hashed for (SIP_DOMAIN). */
    readonly sipRealm: string = os.hostname(),
  ) {}

  /**
   * `db`: a transaction to create the user in (single sign-on creates the user and its identity
   * together). `device_password`: the demo users' known one; otherwise one is generated.
   */
  async create(
    input: UserInput & { device_password?: string; sip_username?: string },
    db: Kysely<Database> = this.store.db,
  ): Promise<CreatedUser> {
    const email = input.email.trim().toLowerCase();
    if (input.time_zone && !isTimeZone(input.time_zone)) throw new ValidationError('time_zone', 'Not a known time zone (e.g. Europe/Berlin)');
    const passwordHash = await hashPassword(input.password);
    const devicePassword = input.device_password ?? generateDevicePassword();
    const insert = async (trx: Kysely<Database>): Promise<CreatedUser> => {
      await this.refuseTakenNames(trx, email, input.extension ?? null, input.sip_username);
      const sipUsername = input.sip_username ?? (await this.freeSipUsername(email, trx));
      const extension = input.extension ?? null;
      const now = nowIso(this.clock);
      const id = newId();
      await trx
        .insertInto('users')
        .values({
          id,
          email,
          name: input.name.trim(),
          role: input.role ?? 'user',
          password_hash: passwordHash,
          extension,
          sip_username: sipUsername,
          ...deviceCredentialColumns({ sip_username: sipUsername, extension }, this.sipRealm, devicePassword),
          time_zone: input.time_zone ?? 'UTC',
          allowed_prefixes: null,
          disabled: 0,
          created_at: now,
          updated_at: now,
        })
        .execute();
      // One unique column for every SIP name: a username can never be another user's extension.
      await trx.insertInto('sip_identities').values([{ name: sipUsername, user_id: id }, ...(extension ? [{ name: extension, user_id: id }] : [])]).execute();
      const row = (await trx.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst())!;
      return { ...this.view(row), device_password: devicePassword };
    };
    try {
      return db.isTransaction ? await insert(db) : await db.transaction().execute(insert);
    } catch (err) {
      // Two creations racing for one name: the database's unique constraints decide.
      if (!isUniqueViolation(err)) throw err;
      throw new AppError(409, 'duplicate', 'A user with this email, extension or SIP username already exists');
    }
  }

  /** A clear field error when the email, the extension or the SIP username is taken (by any SIP name). */
  private async refuseTakenNames(db: Kysely<Database>, email: string, extension: string | null, sipUsername: string | undefined): Promise<void> {
    if (await db.selectFrom('users').select('id').where('email', '=', email).executeTakeFirst()) {
      throw new AppError(409, 'duplicate', 'A user with this email already exists', 'email');
    }
    if (extension && (await this.sipNameTaken(db, extension))) {
      throw new AppError(409, 'duplicate', 'This extension is already taken (by an extension or a SIP username)', 'extension');
    }
    if (sipUsername !== undefined && (sipUsername === extension || (await this.sipNameTaken(db, sipUsername)))) {
      throw new AppError(409, 'duplicate', 'This SIP username is already taken (by a SIP username or an extension)', 'sip_username');
    }
  }

  private async sipNameTaken(db: Kysely<Database>, name: string): Promise<boolean> {
    return (await db.selectFrom('sip_identities').select('user_id').where('name', '=', name).executeTakeFirst()) !== undefined;
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

  /**
   * A new login password. The device password is rotated too (its new value is not shown: the
   * user resets it on the settings page to see one): whoever had the account's credentials loses
   * SIP access with the web access. The caller ends the user's other sessions.
   */
  async changePassword(userId: string, current: string, next: string): Promise<void> {
    const user = await this.get(userId);
    if (!user) throw new NotFoundError('User');
    if (!(await this.isPassword(user, current))) {
      throw new ValidationError('current_password', 'The current password is not right');
    }
    await this.store.db
      .updateTable('users')
      .set({
        password_hash: await hashPassword(next),
        ...deviceCredentialColumns(user, this.sipRealm, generateDevicePassword()),
        updated_at: nowIso(this.clock),
        version: sql`version + 1`,
      })
      .where('id', '=', userId)
      .execute();
  }

  /** Whether this is the user's login password (to confirm a sensitive change: not a sign-in). */
  async isPassword(user: User, password: string): Promise<boolean> {
    return password !== '' && (await verifyPassword(password, user.password_hash));
  }

  /** A new, generated device password; returns it — the only time it is ever readable. */
  async resetDevicePassword(userId: string): Promise<string> {
    const user = await this.get(userId);
    if (!user) throw new NotFoundError('User');
    const password = generateDevicePassword();
    await this.writeDeviceCredentials(user, password);
    return password;
  }

  /** Replaces the device password with one nobody knows (sign out everywhere, disabling, password change). */
  async rotateDevicePassword(userId: string): Promise<void> {
    const user = await this.get(userId);
    if (user) await this.writeDeviceCredentials(user, generateDevicePassword());
  }

  private async writeDeviceCredentials(user: User, password: string): Promise<void> {
    await this.store.db
      .updateTable('users')
      .set({ ...deviceCredentialColumns(user, this.sipRealm, password), updated_at: nowIso(this.clock), version: sql`version + 1` })
      .where('id', '=', user.id)
      .execute();
  }

  /**
   * Disables (or enables again) an account. A disabled user cannot sign in, register or call; the
   * device password is rotated at once, so re-enabling does not revive a leaked one. The caller
   * ends the user's sessions and registrations.
   */
  async setDisabled(userId: string, disabled: boolean): Promise<UserView> {
    const user = await this.get(userId);
    if (!user) throw new NotFoundError('User');
    await this.store.db
      .updateTable('users')
      .set({
        disabled: disabled ? 1 : 0,
        ...(disabled ? deviceCredentialColumns(user, this.sipRealm, generateDevicePassword()) : {}),
        updated_at: nowIso(this.clock),
        version: sql`version + 1`,
      })
      .where('id', '=', userId)
      .execute();
    return this.view((await this.get(userId))!);
  }

  /**
   * Device passwords stored in clear before migration 0009: hashed for this realm and cleared.
   * Runs at every start (cheap when there is nothing left); returns how many it converted.
   */
  async hashLegacyDevicePasswords(): Promise<number> {
    const legacy = await this.store.db.selectFrom('users').selectAll().where('legacy_sip_password', 'is not', null).execute();
    for (const user of legacy) await this.writeDeviceCredentials(user, user.legacy_sip_password!);
    return legacy.length;
  }

  /** How many users' device passwords were made for another SIP domain (they must reset them). */
  async countDevicePasswordsOfOtherRealms(): Promise<number> {
    const row = await this.store.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('sip_realm', 'is not', null)
      .where('sip_realm', '!=', this.sipRealm)
      .executeTakeFirstOrThrow();
    return Number(row.n);
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

  /**
   * `jane.doe@acme.com` → `jane.doe`, or `jane.doe2` … when taken by any SIP name. A name of
   * digits only (`1001@corp.com`) would look like an extension, today's or a future one: it
   * becomes `user1001`.
   */
  private async freeSipUsername(email: string, db: Kysely<Database>): Promise<string> {
    let base = email.split('@')[0]!.replace(/[^a-z0-9._-]/g, '').slice(0, 32) || 'user';
    if (/^[0-9]+$/.test(base)) base = `user${base}`;
    for (let i = 1; ; i++) {
      const candidate = i === 1 ? base : `${base}${i}`;
      if (!(await this.sipNameTaken(db, candidate))) return candidate;
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
