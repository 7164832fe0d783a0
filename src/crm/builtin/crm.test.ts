import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PhoneIndex, PhoneNumbers } from '../../phone/index.ts';
import { Store } from '../../store/index.ts';
import { ConflictError, ValidationError } from '../../shared/errors.ts';
import { dropPgSchema, ENGINES, freshPgSchema, TEST_DATABASE_URL } from '../../../test/support/engines.ts';
import { BuiltinCrm } from './index.ts';

describe.each(ENGINES)('built-in CRM on %s', (engine) => {
  let store: Store;
  let crm: BuiltinCrm;
  let schema: string | undefined;
  let acmeId: string;

  beforeAll(async () => {
    schema = engine === 'postgres' ? freshPgSchema() : undefined;
    store = await Store.open(engine === 'postgres' ? { databaseUrl: TEST_DATABASE_URL, pgSchema: schema! } : { dataDir: ':memory:' });
    await store.migrate();
    crm = new BuiltinCrm({ store, phoneIndex: new PhoneIndex(new PhoneNumbers({ defaultRegion: 'US', matchDigits: 9 })) });
    acmeId = (await crm.createAccount({ name: 'Acme Corp', phone: '+1 415 555 0100' })).id;
    await crm.createContactRecord({ first_name: 'Jane', last_name: 'Doe', email: 'jane@acme.com', account_id: acmeId, phone_work: '(415) 555-0134', phone_mobile: '650.555.0101 x9' });
    await crm.createContactRecord({ first_name: 'Percy', last_name: '100% Sure_Thing', email: 'percy@example.com' });
    await crm.createLead({ first_name: 'Lee', last_name: 'Ng', company: 'Contoso', phone: '+44 20 7946 0958' });
  });
  afterAll(async () => {
    await store.close();
    if (schema) await dropPgSchema(schema);
  });

  it('runs its migrations once: a second run applies nothing', async () => {
    expect(await store.migrate()).toEqual([]);
  });

  it('finds a contact by name, company, email, and by a number in any format', async () => {
    const names = async (q: string) => (await crm.listContacts({ q })).data.map((c) => c.name);
    expect(await names('jane')).toEqual(['Jane Doe']);
    expect(await names('Jane Doe')).toEqual(['Jane Doe']);
    expect(await names('ACME')).toEqual(['Jane Doe']);
    expect(await names('jane@acme.com')).toEqual(['Jane Doe']);
    for (const q of ['+14155550134', '(415) 555-0134', '415.555.0134', '1 415 555 0134', '555-0134', '650 555 0101 x9']) {
      expect(await names(q), q).toEqual(['Jane Doe']);
    }
  });

  it('matches SQL metacharacters literally', async () => {
    const names = async (q: string) => (await crm.listContacts({ q })).data.map((c) => c.name);
    expect(await names('100%')).toEqual(['Percy 100% Sure_Thing']);
    expect(await names('%')).toEqual(['Percy 100% Sure_Thing']);
    expect(await names('_')).toEqual(['Percy 100% Sure_Thing']);
    expect(await names("'; drop table contacts; --")).toEqual([]);
    expect(await names('\\')).toEqual([]);
    expect((await crm.listContacts({})).data).toHaveLength(2);
  });

  it('a saved number is findable at once, and an edited number stops matching its old value', async () => {
    const c = await crm.createContactRecord({ first_name: 'Mo', last_name: 'Ved', phone_work: '+1 312 555 0111' });
    expect((await crm.findByPhone('3125550111')).map((m) => m.name)).toEqual(['Mo Ved']);
    await crm.updateContact(c.id, { version: c.version, phone_work: '312-555-0122' });
    expect(await crm.findByPhone('3125550111')).toEqual([]);
    expect((await crm.findByPhone('+13125550122')).map((m) => m.name)).toEqual(['Mo Ved']);
    await crm.deleteContact(c.id);
    expect(await crm.findByPhone('+13125550122')).toEqual([]);
  });

  it('writes the record and its phone index together or not at all', async () => {
    await expect(
      crm.createContactRecord({ first_name: 'Ghost', last_name: 'Writer', account_id: '00000000-0000-4000-8000-000000000000', phone_work: '+1 206 555 0177' }),
    ).rejects.toBeInstanceOf(ValidationError);
    expect(await crm.findByPhone('+12065550177')).toEqual([]);
    expect((await crm.listContacts({ q: 'Ghost' })).data).toEqual([]);
  });

  it('refuses an edit made on a stale version with a conflict that carries the current record', async () => {
    const c = await crm.createContactRecord({ first_name: 'Kim', last_name: 'Lee' });
    const first = await crm.updateContact(c.id, { version: c.version, title: 'CFO' });
    expect(first.version).toBe(c.version + 1);
    const stale = crm.updateContact(c.id, { version: c.version, title: 'CEO' });
    await expect(stale).rejects.toBeInstanceOf(ConflictError);
    await stale.catch((err: ConflictError) => expect((err.extra?.current as { title: string }).title).toBe('CFO'));
    expect((await crm.getContact(c.id)).title).toBe('CFO');
  });

  it('pages through results', async () => {
    const first = await crm.listContacts({ limit: 2 });
    expect(first.page).toMatchObject({ limit: 2, offset: 0, has_more: true, next_offset: 2 });
    const rest = await crm.listContacts({ limit: 2, offset: 2 });
    expect(rest.data.map((c) => c.id)).not.toContain(first.data[0]!.id);
  });

  it('shows an account its contacts’ activities on its timeline', async () => {
    const jane = (await crm.listContacts({ q: 'jane' })).data[0]!;
    await crm.addNote({ record_type: 'contact', record_id: jane.id, subject: 'Called about renewal' }, null);
    const timeline = await crm.listActivities({ type: 'account', id: acmeId });
    expect(timeline.data.map((a) => a.subject)).toContain('Called about renewal');
  });

  it('finds leads by any number format and contacts and leads by email', async () => {
    expect((await crm.findByPhone('00442079460958')).map((m) => [m.ref.type, m.name])).toEqual([['lead', 'Lee Ng']]);
    expect((await crm.findByEmail('JANE@acme.com')).map((m) => m.name)).toEqual(['Jane Doe']);
  });
});
