/**
 * The server secret: the MAC key of join links, SIP WebSocket tokens, the Salesforce hand-off,
 * the signed-out ticket and digest nonces. It never lives in the database it protects (a leaked
 * backup must not let anyone mint a session): it comes from `SECRET_KEY`, else from
 * `DATA_DIR/secret.key`, created once with mode 0600.
 *
 * Rotation: put the new key in `SECRET_KEY` and the old one in `SECRET_KEY_PREVIOUS` (a
 * comma-separated list) for a grace period. New MACs always use the current key; MACs made
 * with a previous key still verify until it is removed from the list.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { closeSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from './schema.ts';

export const SECRET_FILE = 'secret.key';

export class ServerSecret {
  constructor(
    /** The key every new MAC is made with. */
    readonly current: string,
    /** Older keys, accepted when verifying (a rotation's grace period). */
    readonly previous: readonly string[] = [],
  ) {}

  /** Every key a MAC may have been made with, the current one first. */
  get keys(): string[] {
    return [this.current, ...this.previous];
  }

  /** HMAC-SHA256 of `label|data` with the current key, base64url. */
  sign(label: string, data: string): string {
    return mac(this.current, label, data);
  }

  /** Whether `signature` is `sign(label, data)` under the current or a previous key (constant time per key). */
  verify(label: string, data: string, signature: string): boolean {
    const given = Buffer.from(signature);
    let ok = false;
    for (const key of this.keys) {
      const expected = Buffer.from(mac(key, label, data));
      if (expected.length === given.length && timingSafeEqual(expected, given)) ok = true;
    }
    return ok;
  }
}

function mac(key: string, label: string, data: string): string {
  return createHmac('sha256', key).update(`${label}|${data}`).digest('base64url');
}

export interface LoadSecretOptions {
  db: Kysely<Database>;
  /** SECRET_KEY, when set. */
  secretKey: string | undefined;
  /** SECRET_KEY_PREVIOUS. */
  previous: string[];
  dataDir: string;
  /** Several nodes share the database: each must have the same SECRET_KEY. */
  shared: boolean;
  log: Logger;
}

/**
 * The secret this node uses. Older versions kept it in `settings.server_secret`: without a
 * SECRET_KEY, that value moves once to `DATA_DIR/secret.key` (so links already mailed keep
 * working), and the row is deleted either way.
 */
export async function loadServerSecret(options: LoadSecretOptions): Promise<ServerSecret> {
  const legacy = await options.db.selectFrom('settings').select('value').where('key', '=', 'server_secret').executeTakeFirst();
  let current = options.secretKey;
  if (!current) {
    current = options.dataDir === ':memory:' ? randomBytes(32).toString('base64url') : secretFile(options.dataDir, legacy?.value, options.log);
    if (options.shared) {
      options.log.warn('DATABASE_URL is set but SECRET_KEY is not: every node must share one secret (set the same SECRET_KEY on each), or links and tokens made on one node fail on the others');
    }
  } else if (legacy) {
    options.log.warn('the server secret of an older version was in the database: it is deleted, and links signed with it stop working (SECRET_KEY is used)');
  }
  if (legacy) await options.db.deleteFrom('settings').where('key', '=', 'server_secret').execute();
  return new ServerSecret(current, options.previous.filter((k) => k !== current));
}

/** Reads DATA_DIR/secret.key, or creates it (mode 0600, exclusive: two processes agree on one). */
function secretFile(dataDir: string, seed: string | undefined, log: Logger): string {
  const file = path.join(dataDir, SECRET_FILE);
  try {
    const fd = openSync(file, 'wx', 0o600);
    try {
      writeSync(fd, `${seed ?? randomBytes(32).toString('base64url')}\n`);
    } finally {
      closeSync(fd);
    }
    log.info({ file }, seed ? 'moved the server secret out of the database into its own file' : 'created the server secret');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const mode = statSync(file).mode & 0o777;
  if (mode & 0o077) log.warn({ file, mode: mode.toString(8) }, 'the server secret file is readable by other users: chmod 600 it');
  const value = readFileSync(file, 'utf8').trim();
  if (value.length < 32) throw new Error(`${file} holds no usable secret (expected at least 32 characters): delete it to have a new one made`);
  return value;
}
