/**
 * Storage: one Kysely `Database`, two engines. SQLite (better-sqlite3, a file under DATA_DIR) is the
 * embedded default; PostgreSQL (`DATABASE_URL`) lets several nodes share state. Migrations are
 * ordered modules that run at start, the same for both.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql, type Migration, type MigrationProvider } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.ts';
import * as m0001 from './migrations/0001-initial.ts';
import * as m0002 from './migrations/0002-sip.ts';
import * as m0003 from './migrations/0003-activity.ts';
import * as m0005 from './migrations/0005-sso.ts';
import * as m0006 from './migrations/0006-invitations.ts';
import * as m0008 from './migrations/0008-guest-calls.ts';
import * as m0007 from './migrations/0007-salesforce.ts';
import * as m0009 from './migrations/0009-device-credentials.ts';
import * as m0010 from './migrations/0010-one-time-tokens.ts';
import * as m0011 from './migrations/0011-guest-call-claims.ts';
import * as m0012 from './migrations/0012-oidc-reauth.ts';

export type * from './schema.ts';
export { loadServerSecret, ServerSecret } from './server-secret.ts';
export { sql } from 'kysely';

const MIGRATIONS: Record<string, Migration> = {
  '0001-initial': m0001,
  '0002-sip': m0002,
  '0003-activity': m0003,
  '0005-sso': m0005,
  '0006-invitations': m0006,
  '0008-guest-calls': m0008,
  '0007-salesforce': m0007,
  '0009-device-credentials': m0009,
  '0010-one-time-tokens': m0010,
  '0011-guest-call-claims': m0011,
  '0012-oidc-reauth': m0012,
};

export type Engine = 'sqlite' | 'postgres';

export interface StoreOptions {
  /** PostgreSQL URL; SQLite when absent. */
  databaseUrl?: string | undefined;
  /** Directory for the SQLite file (`ringside.db`), or `:memory:`. */
  dataDir?: string;
  /** PostgreSQL schema to use (created if missing) — tests use one per run. */
  pgSchema?: string;
  poolSize?: number;
}

export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

export class Store {
  private constructor(
    readonly db: Kysely<Database>,
    readonly engine: Engine,
    /** Where the data lives, for the start-up log (file path or URL without password). */
    readonly location: string,
    private readonly pool: pg.Pool | undefined,
  ) {}

  static async open(options: StoreOptions): Promise<Store> {
    if (options.databaseUrl) {
      const pgSchema = options.pgSchema;
      const pool = new pg.Pool({
        connectionString: options.databaseUrl,
        max: options.poolSize ?? 10,
        ...(pgSchema ? { options: `-c search_path=${pgSchema}` } : {}),
      });
      if (pgSchema) {
        if (!/^[a-z_][a-z0-9_]*$/.test(pgSchema)) throw new Error(`invalid PostgreSQL schema name ${pgSchema}`);
        await pool.query(`CREATE SCHEMA IF NOT EXISTS ${pgSchema}`);
      }
      const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
      const url = new URL(options.databaseUrl);
      url.password = url.password ? '***' : '';
      return new Store(db, 'postgres', url.toString() + (pgSchema ? ` (schema ${pgSchema})` : ''), pool);
    }
    const dir = options.dataDir ?? './data';
    let file = ':memory:';
    if (dir !== ':memory:') {
      mkdirSync(dir, { recursive: true });
      file = path.join(dir, 'ringside.db');
    }
    const sqlite = new SQLite(file);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
    return new Store(db, 'sqlite', file, undefined);
  }

  /** Runs pending migrations; returns the names it applied. */
  async migrate(): Promise<string[]> {
    const provider: MigrationProvider = { getMigrations: async () => MIGRATIONS };
    // Features land in any order (a database may have 0008 before 0007 arrives): each migration
    // stands alone, so one that is missing runs when it appears.
    const migrator = new Migrator({ db: this.db, provider, allowUnorderedMigrations: true });
    const { error, results } = await migrator.migrateToLatest();
    if (error) throw error;
    return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
  }

  /** Readiness: the database answers a trivial query. */
  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  poolStats(): PoolStats {
    if (!this.pool) return { total: 1, idle: 1, waiting: 0 };
    return { total: this.pool.totalCount, idle: this.pool.idleCount, waiting: this.pool.waitingCount };
  }

  /** A value of the `settings` table, created once with `create()` — shared by every node. */
  async setting(key: string, create: () => string): Promise<string> {
    const found = await this.db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
    if (found) return found.value;
    await this.db
      .insertInto('settings')
      .values({ key, value: create() })
      .onConflict((oc) => oc.column('key').doNothing())
      .execute();
    const row = await this.db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirstOrThrow();
    return row.value;
  }

  /**
   * Uses a one-time token's nonce: true the first time on any node sharing this database, false
   * after. `expiresAt` (ms) is when the token itself expires; the row is kept until then.
   */
  async consumeOnce(nonce: string, expiresAt: number, now = Date.now()): Promise<boolean> {
    const db = this.db.withTables<{ consumed_tokens: { nonce: string; expires_at: number } }>();
    // Rows of expired tokens are useless (the token is refused anyway): the table stays small.
    await db.deleteFrom('consumed_tokens').where('expires_at', '<', now).execute();
    const inserted = await db
      .insertInto('consumed_tokens')
      .values({ nonce, expires_at: expiresAt })
      .onConflict((oc) => oc.column('nonce').doNothing())
      .executeTakeFirst();
    return Number(inserted.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}

/**
 * better-sqlite3 compiles a statement on every `prepare`, and Kysely prepares on every query:
 * keep the compiled statements of the queries we run again and again (a bounded cache — the SQL
 * text is the key, the values are bound per call).
 */
function withStatementCache(sqlite: SQLite.Database, size = 500) {
  const cache = new Map<string, SQLite.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(sql: string) {
      let statement = cache.get(sql);
      if (!statement) {
        statement = sqlite.prepare(sql);
        if (cache.size >= size) cache.delete(cache.keys().next().value!);
        cache.set(sql, statement);
      }
      return statement;
    },
  };
}

export function newId(): string {
  return randomUUID();
}

export function nowIso(clock: () => number = Date.now): string {
  return new Date(clock()).toISOString();
}

/** True for a unique-constraint violation on either engine. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string } | undefined;
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** Escapes LIKE metacharacters so user text is matched literally (use with `escape '\'`). */
export function likePattern(text: string, mode: 'contains' | 'prefix' = 'contains'): string {
  const escaped = text.replace(/[\\%_]/g, (c) => `\\${c}`);
  return mode === 'contains' ? `%${escaped}%` : `${escaped}%`;
}
