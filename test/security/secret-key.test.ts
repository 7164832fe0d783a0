/**
 * Review #11 / issue 13 item 10: the MAC key of join links, SIP tokens and the Salesforce
 * hand-off lived in `settings.server_secret`, so a leaked database let anyone mint an admin
 * session. Now it comes from SECRET_KEY or DATA_DIR/secret.key (0600), never the database, and
 * rotates: links signed with the previous key work while it is in SECRET_KEY_PREVIOUS.
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpClient, startServer, type TestServer } from '../support/server.ts';

const OLD_KEY = 'old-key-0123456789abcdef0123456789abcdef';
const NEW_KEY = 'new-key-fedcba9876543210fedcba9876543210';

/** Every text value of every table: what a stolen database file gives away. */
function dump(dataDir: string): string {
  const db = new SQLite(path.join(dataDir, 'ringside.db'), { readonly: true });
  try {
    const tables = db.prepare("select name from sqlite_master where type = 'table'").all() as { name: string }[];
    return tables.map((t) => JSON.stringify(db.prepare(`select * from "${t.name}"`).all())).join('\n');
  } finally {
    db.close();
  }
}

async function inviteLink(server: TestServer): Promise<string> {
  const alice = new HttpClient(server.url);
  await alice.login('alice@example.com');
  const start = Math.floor(Date.now() / 60_000) * 60_000 + 60_000;
  const res = await alice.request('POST', '/api/v1/invitations', {
    json: { email: 'guest@example.org', starts_at: new Date(start).toISOString(), ends_at: new Date(start + 3_600_000).toISOString() },
  });
  expect(res.status).toBe(201);
  return new URL(res.json().invitation.link).pathname;
}

describe('the server secret', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it('is made once in DATA_DIR/secret.key with mode 0600, and the database holds no copy', async () => {
    server = await startServer();
    const file = path.join(server.dataDir, 'secret.key');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const secret = readFileSync(file, 'utf8').trim();
    expect(secret.length).toBeGreaterThanOrEqual(32);
    await inviteLink(server); // something signed with it exists
    const db = dump(server.dataDir);
    expect(db).not.toContain(secret);
    expect(db).not.toContain('server_secret');
  });

  it("moves an older version's database secret to the file (mailed links keep working) and deletes the row", async () => {
    server = await startServer();
    const link = await inviteLink(server);
    const secret = readFileSync(path.join(server.dataDir, 'secret.key'), 'utf8').trim();
    const dataDir = server.dataDir;
    await server.stop({ keepData: true });
    // The layout of an older version: the secret in settings, no file.
    const db = new SQLite(path.join(dataDir, 'ringside.db'));
    db.prepare("insert into settings (key, value) values ('server_secret', ?)").run(secret);
    db.close();
    const { rmSync } = await import('node:fs');
    rmSync(path.join(dataDir, 'secret.key'));
    server = await startServer({ dataDir });
    expect((await fetch(server.url + link)).status).toBe(200);
    expect(readFileSync(path.join(dataDir, 'secret.key'), 'utf8').trim()).toBe(secret);
    expect(dump(dataDir)).not.toContain(secret);
  });

  it('rotates: a join link signed with the previous key works with SECRET_KEY_PREVIOUS, and stops without it', async () => {
    server = await startServer({ env: { SECRET_KEY: OLD_KEY } });
    const link = await inviteLink(server);
    expect((await fetch(server.url + link)).status).toBe(200);
    const dataDir = server.dataDir;
    await server.stop({ keepData: true });

    server = await startServer({ dataDir, env: { SECRET_KEY: NEW_KEY, SECRET_KEY_PREVIOUS: OLD_KEY } });
    expect((await fetch(server.url + link)).status).toBe(200);
    // New links are made with the new key: the link shown now is another one.
    const alice = new HttpClient(server.url);
    await alice.login('alice@example.com');
    const list = (await alice.get('/api/v1/invitations')).json();
    const shown = new URL(list.data[0].link).pathname;
    expect(shown).not.toBe(link);
    expect((await fetch(server.url + shown)).status).toBe(200);
    await server.stop({ keepData: true });

    server = await startServer({ dataDir, env: { SECRET_KEY: NEW_KEY } });
    expect((await fetch(server.url + link)).status).toBe(404);
    expect((await fetch(server.url + shown)).status).toBe(200);
  });

  it('refuses a SECRET_KEY too short to be a key, naming the option but not the value', async () => {
    const { loadConfig, ConfigError } = await import('../../src/config/index.ts');
    let error: unknown;
    try {
      loadConfig({ env: { SECRET_KEY: 'hunter2' } });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(String(error)).toMatch(/SECRET_KEY/);
    expect(String(error)).not.toMatch(/hunter2/);
  });
});
