/**
 * Review #22: any user could delete any built-in CRM record (no soft delete, no audit). Now only
 * the record's owner (who created it) or an administrator may delete it, over the API and the
 * pages; records without an owner (seeded, imported) only an administrator. Reading and editing
 * stay open to the team, as small sales teams work.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpClient, startServer, type TestServer } from '../support/server.ts';

describe('deleting built-in CRM records', () => {
  let server: TestServer;
  let alice: HttpClient;
  let bob: HttpClient;
  let admin: HttpClient;

  beforeAll(async () => {
    server = await startServer();
    alice = new HttpClient(server.url);
    bob = new HttpClient(server.url);
    admin = new HttpClient(server.url);
    await alice.login('alice@example.com');
    await bob.login('bob@example.com');
    await admin.login('admin@example.com');
  });
  afterAll(async () => server?.stop());

  const create = async (client: HttpClient, path: string, json: Record<string, unknown>) => {
    const res = await client.request('POST', `/api/v1/${path}`, { json });
    expect(res.status).toBe(201);
    return res.json().id as string;
  };

  it("refuses (403) bob deleting alice's contact, account and lead, with a clear message; the records stay", async () => {
    const contact = await create(alice, 'contacts', { first_name: 'Ada', last_name: 'Lovelace' });
    const account = await create(alice, 'accounts', { name: 'Analytical Engines' });
    const lead = await create(alice, 'leads', { first_name: 'Charles', last_name: 'Babbage' });
    for (const [path, id, what] of [['contacts', contact, 'contact'], ['accounts', account, 'account'], ['leads', lead, 'lead']] as const) {
      const res = await bob.request('DELETE', `/api/v1/${path}/${id}`);
      expect(res.status, path).toBe(403);
      expect(res.json().error.message).toBe(`Only the ${what}'s owner or an administrator can delete this ${what}.`);
      expect((await bob.get(`/api/v1/${path}/${id}`)).status).toBe(200);
    }
    // The page's Delete button too.
    const page = await bob.request('POST', `/contacts/${contact}/delete`, { form: { _csrf: bob.csrf }, headers: { accept: 'text/html' } });
    expect(page.status).toBe(403);
    expect(page.text).toMatch(/Only the contact&#39;s owner or an administrator|Only the contact's owner or an administrator/);
    // Colleagues may still edit each other's records.
    const current = (await bob.get(`/api/v1/contacts/${contact}`)).json();
    expect((await bob.request('PATCH', `/api/v1/contacts/${contact}`, { json: { version: current.version, title: 'Countess' } })).status).toBe(200);
    // The owner may delete; so may an administrator.
    expect((await alice.request('DELETE', `/api/v1/contacts/${contact}`)).status).toBe(204);
    expect((await admin.request('DELETE', `/api/v1/accounts/${account}`)).status).toBe(204);
    expect((await admin.request('DELETE', `/api/v1/leads/${lead}`)).status).toBe(204);
  });

  it('lets only an administrator delete a record without an owner (imported ones)', async () => {
    const seeded = (await alice.get('/api/v1/contacts?limit=1')).json().data[0];
    await server.ringside.store.db.updateTable('contacts').set({ owner_id: null }).where('id', '=', seeded.id).execute();
    const res = await alice.request('DELETE', `/api/v1/contacts/${seeded.id}`);
    expect(res.status).toBe(403);
    expect(res.json().error.message).toMatch(/Only an administrator can delete this contact/);
    expect((await admin.request('DELETE', `/api/v1/contacts/${seeded.id}`)).status).toBe(204);
  });
});
