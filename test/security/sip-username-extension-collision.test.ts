/**
 * Review S1 (settled: it applied). Each of `sip_username` and `extension` was unique on its own,
 * but one user's SIP username could equal another user's extension — a just-in-time SSO user
 * `1001@corp.test` became SIP user "1001" — and SIP then looked "1001" up with
 * `sip_username = ? OR extension = ?` and no order: calls to extension 1001 (and DIDs mapped to
 * it) could ring the newcomer. Now every SIP name is one row of `sip_identities` (a unique
 * column), creation that would collide gets a field error, and the newcomer gets a free name.
 */
import { Migrator, type Migration } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SipUsers } from '../../src/appserver/sip-users.ts';
import { Store } from '../../src/store/index.ts';
import * as m0001 from '../../src/store/migrations/0001-initial.ts';
import { UserDirectory } from '../../src/users/index.ts';
import { ENGINES, TEST_DATABASE_URL, dropPgSchema, freshPgSchema } from '../support/engines.ts';
import { HostileProvider } from '../support/oidc-provider.ts';
import { HttpClient, startServer, type TestServer } from '../support/server.ts';
import { TestPhone } from '../support/sip-phone.ts';
import { waitFor } from '../support/wait.ts';

let idp: HostileProvider;
let server: TestServer;

beforeAll(async () => {
  idp = await HostileProvider.listen();
  idp.accountOf.set('none-as-1001', { email: '1001@corp.test', emailVerified: true });
  const provider = { id: 'none-as-1001', name: 'Corp', issuer: idp.issuer('none-as-1001'), client_id: 'ringside', client_secret: 's3cret', allowed_domains: ['corp.test'] };
  server = await startServer({ env: { OIDC_PROVIDERS: JSON.stringify([provider]) } });
});
afterAll(async () => {
  await server?.stop();
  await idp?.close();
});

/** A browser signing in with single sign-on (just-in-time account on first sign-in). */
async function signInWithSso(providerId: string): Promise<HttpClient> {
  const client = new HttpClient(server.url);
  const start = await client.get(`/auth/oidc/start?provider=${providerId}&next=/contacts`, { accept: 'text/html' });
  expect(start.status).toBe(303);
  const atProvider = await fetch(start.headers.get('location')!, { redirect: 'manual' });
  const callback = new URL(atProvider.headers.get('location')!);
  expect((await client.get(callback.pathname + callback.search, { accept: 'text/html' })).status).toBe(303);
  return client;
}

describe('a SIP username can never be another user’s extension', () => {
  it('gives a just-in-time SSO user 1001@corp.test a name of its own, and calls to extension 1001 still ring alice', async () => {
    const newcomer = await signInWithSso('none-as-1001');
    const me = (await newcomer.get('/api/v1/users/me')).json();
    expect(me.email).toBe('1001@corp.test');
    expect(me.sip_username).not.toBe('1001');
    expect(me.sip_username).toBe('user1001');

    const port = server.ringside.sip.ports.udp!;
    const alicesDesk = await TestPhone.start({ user: 'alice', password: 'ringside-demo', domain: '127.0.0.1', server: { address: '127.0.0.1', port }, answer: 'manual' });
    const bob = await TestPhone.start({ user: 'bob', password: 'ringside-demo', domain: '127.0.0.1', server: { address: '127.0.0.1', port } });
    try {
      expect((await alicesDesk.register()).status).toBe(200);
      const calling = bob.call('1001');
      await waitFor(() => alicesDesk.calls.length > 0, { what: 'alice’s desk phone ringing' });
      bob.cancelCall();
      expect((await calling).status).toBe(487);
    } finally {
      await alicesDesk.close();
      await bob.close();
    }
    expect((await server.ringside.sip.users.find('1001'))?.email).toBe('alice@example.com');
  });

  it('refuses an extension that is someone’s SIP username, and a SIP username that is someone’s extension, with a field error', async () => {
    const admin = new HttpClient(server.url);
    await admin.login('admin@example.com');
    const taken = await admin.request('POST', '/api/v1/users', { json: { email: 'yan@example.com', name: 'Yan', password: 'yans-password', extension: '1001' } });
    expect(taken.status).toBe(409);
    expect(taken.json()).toMatchObject({ error: { code: 'duplicate', field: 'extension' } });

    const users = new UserDirectory(server.ringside.store, Date.now, '127.0.0.1');
    await expect(users.create({ email: 'yara@example.com', name: 'Yara', password: 'yaras-password', sip_username: '1002' })).rejects.toMatchObject({ status: 409, field: 'sip_username' });
    // A user whose SIP username is all digits (made before this fix) holds that name as an extension too.
    const odd = await users.create({ email: 'zed@example.com', name: 'Zed', password: 'zeds-password', sip_username: '4321' });
    const again = await admin.request('POST', '/api/v1/users', { json: { email: 'zoe@example.com', name: 'Zoe', password: 'zoes-password', extension: '4321' } });
    expect(again.status).toBe(409);
    expect((await server.ringside.sip.users.find('4321'))?.id).toBe(odd.id);
  });
});

describe.each(ENGINES)('a database where the collision already exists (%s)', (engine) => {
  it('keeps the name with the extension’s owner after migrating, whatever order rows come back in', async () => {
    const pgSchema = engine === 'postgres' ? freshPgSchema() : undefined;
    const store = await Store.open(engine === 'postgres' ? { databaseUrl: TEST_DATABASE_URL, pgSchema: pgSchema! } : { dataDir: ':memory:' });
    try {
      const before: Record<string, Migration> = { '0001-initial': m0001 };
      expect((await new Migrator({ db: store.db, provider: { getMigrations: async () => before } }).migrateToLatest()).error).toBeUndefined();
      const row = (id: string, email: string, sip: string, extension: string | null, at: string) =>
        ({ id, email, name: id, role: 'user', password_hash: 'x', extension, sip_username: sip, sip_password: 'pw', time_zone: 'UTC', disabled: 0, created_at: at, updated_at: at });
      // Y (an SSO newcomer whose SIP username is "1001") inserted first, X (extension 1001) later.
      await (store.db as any).insertInto('users').values(row('y', 'y@corp.test', '1001', null, '2024-01-01T00:00:00.000Z')).execute();
      await (store.db as any).insertInto('users').values(row('x', 'x@corp.test', 'xavier', '1001', '2024-06-01T00:00:00.000Z')).execute();
      await store.migrate();
      const sip = new SipUsers(store);
      expect((await sip.find('1001'))?.id).toBe('x');
      expect((await sip.find('xavier'))?.id).toBe('x');
    } finally {
      await store.close();
      if (pgSchema) await dropPgSchema(pgSchema);
    }
  });
});
