/**
 * The Salesforce adapter against the local stand-in, on both storage engines: the mirror's initial
 * sync (paged, resumable) and incremental sync, caller lookup without API calls, SOSL for a miss
 * while the mirror may be behind,
 * Add contact (found at once, no duplicate after the search-index lag, duplicate rule), token
 * refresh, and settings that cannot work; call logs through the durable outbox: exactly one Task
 * with the call-center fields, and none lost or doubled across REQUEST_LIMIT_EXCEEDED and 5xx.
 */
import { rmSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeAppKeys, SalesforceStandIn, type AppKeys } from '../../../test/support/salesforce/index.ts';
import { dropPgSchema, ENGINES, freshPgSchema, TEST_DATABASE_URL } from '../../../test/support/engines.ts';
import { ActivityOutbox, enqueue } from '../../activity/index.ts';
import { PhoneNumbers } from '../../phone/index.ts';
import { Store } from '../../store/index.ts';
import type { CallLog } from '../port.ts';
import { SalesforceCrm, type SalesforceSettings } from './adapter.ts';

const INTEGRATION = 'ringside-integration@acme.example';
const CLIENT_ID = '3MVG9-ringside-test-consumer-key';

function logger() {
  const lines: { level: string; msg: string; obj: object }[] = [];
  const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, msg: msg ?? '', obj });
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}

describe.each(ENGINES)('Salesforce adapter on %s', (engine) => {
  let keys: AppKeys;
  let org: SalesforceStandIn;
  let store: Store;
  let schema: string | undefined;
  let log: ReturnType<typeof logger>;
  const phones = new PhoneNumbers({ defaultRegion: 'US', matchDigits: 9 });
  const adapters: SalesforceCrm[] = [];

  beforeAll(() => {
    keys = makeAppKeys();
  });
  afterAll(() => rmSync(keys.dir, { recursive: true, force: true }));

  beforeEach(async () => {
    org = await SalesforceStandIn.start({ clientId: CLIENT_ID, certificate: keys.certificatePem, usernames: [INTEGRATION], indexLagSeconds: 900 });
    schema = engine === 'postgres' ? freshPgSchema() : undefined;
    store = await Store.open(engine === 'postgres' ? { databaseUrl: TEST_DATABASE_URL, pgSchema: schema! } : { dataDir: ':memory:' });
    await store.migrate();
    log = logger();
  });
  afterEach(async () => {
    for (const a of adapters.splice(0)) await a.stop();
    await store.close();
    if (schema) await dropPgSchema(schema);
    await org.close();
  });

  function settings(over: Partial<SalesforceSettings> = {}): SalesforceSettings {
    return {
      loginUrl: org.url,
      clientId: CLIENT_ID,
      username: INTEGRATION,
      privateKeyFile: keys.privateKeyFile,
      apiVersion: '62.0',
      syncIntervalS: 3600,
      apiReservePct: 10,
      userMatch: 'email',
      userMap: {},
      externalIdField: 'Ringside_Call_Id__c',
      batchWindowMs: 0,
      ...over,
    };
  }

  /** An adapter that syncs only when the test says so (syncNow). */
  async function adapter(over: Partial<SalesforceSettings> = {}, onStore = store): Promise<SalesforceCrm> {
    const a = new SalesforceCrm({ store: onStore, phones, settings: settings(over), log, userEmail: async () => undefined, pageSize: 200 });
    adapters.push(a);
    await a.start();
    await a.syncNow(); // the first round, already scheduled: wait for it
    return a;
  }

  /** An org like a small sales team's: accounts, contacts written every way, leads (one converted). */
  function seedOrg(contacts = 450) {
    const acme = org.seed('Account', { Name: 'Acme Corp', Phone: '+1 415 555 0100' }, { indexed: true });
    for (let i = 0; i < 19; i++) org.seed('Account', { Name: `Account ${i}` }, { indexed: true });
    const jane = org.seed('Contact', { FirstName: 'Jane', LastName: 'Doe', Title: 'VP Sales', AccountId: acme, Phone: '(415) 555-0134', Email: 'jane@acme.example' }, { indexed: true });
    for (let i = 1; i < contacts; i++) org.seed('Contact', { LastName: `Contact ${i}`, MobilePhone: `+1 212 555 ${String(1000 + i).padStart(4, '0')}` }, { indexed: true });
    const lead = org.seed('Lead', { FirstName: 'Lee', LastName: 'Ad', Company: 'Prospect Inc', Phone: '312.555.0188' }, { indexed: true });
    const converted = org.seed('Lead', { LastName: 'Gone', Company: 'Old Inc', Phone: '312.555.0199' }, { indexed: true });
    org.convertLead(converted);
    return { acme, jane, lead };
  }

  it('mirrors the org page by page with progress, then answers lookups without an API call', async () => {
    const { acme, jane, lead } = seedOrg();
    const crm = await adapter();
    const health = await crm.health();
    expect(health.ok).toBe(true);
    expect(health.sync).toMatchObject({ state: 'ready', synced: 20 + 450 + 1, total: 20 + 450 + 1, percent: 100 });
    // The log says how far it got, in records of total and time left.
    expect(log.lines.some((l) => /initial sync \d+ of 471 records/.test(l.msg))).toBe(true);
    // 450 contacts at 200 a page: the query and two more pages (nextRecordsUrl).
    expect(org.requests.filter((r) => /\/query\/01g/.test(r.path)).length).toBeGreaterThanOrEqual(2);

    const before = org.apiCalls;
    const started = performance.now();
    const [match] = await crm.findByPhone('+14155550134');
    expect(performance.now() - started).toBeLessThan(50);
    expect(match).toMatchObject({ ref: { type: 'contact', id: jane }, name: 'Jane Doe', title: 'VP Sales', accountName: 'Acme Corp', match: 'exact', field: 'Phone' });
    expect(match!.url).toBe(`${org.url}/lightning/r/Contact/${jane}/view`);
    expect((await crm.findByPhone('312-555-0188'))[0]).toMatchObject({ ref: { type: 'lead', id: lead }, accountName: 'Prospect Inc' });
    expect((await crm.findByPhone('+1 415 555 0100'))[0]).toMatchObject({ ref: { type: 'account', id: acme } });
    expect(await crm.findByPhone('+13125550199')).toEqual([]); // the converted lead is not a caller match
    expect((await crm.findByEmail('JANE@acme.example'))[0]?.ref.id).toBe(jane);
    expect(await crm.getRecord({ type: 'contact', id: jane })).toMatchObject({ name: 'Jane Doe' });
    // All from the mirror, the unknown number too: the mirror is current, so SOSL could not know more.
    expect(org.apiCalls - before).toBe(0);
  });

  it('keeps the mirror fresh with one request per poll: new, changed, deleted and converted records', async () => {
    const { jane, lead } = seedOrg(30);
    const crm = await adapter();
    org.edit(jane, { Phone: '+1 650 555 0111' });
    const newcomer = org.seed('Contact', { FirstName: 'New', LastName: 'Comer', Phone: '+44 20 7946 0321' });
    const doomed = org.seed('Contact', { LastName: 'Doomed', Phone: '+1 718 555 0142' });
    await crm.syncNow();
    org.remove(doomed);
    org.convertLead(lead);
    const before = org.apiCalls;
    await crm.syncNow();
    expect(org.apiCalls - before).toBe(1);
    const calls = org.apiCalls;
    expect((await crm.findByPhone('+16505550111'))[0]?.ref.id).toBe(jane);
    expect((await crm.findByPhone('+442079460321'))[0]?.ref.id).toBe(newcomer);
    expect(org.apiCalls).toBe(calls);
    // Gone from the org, gone from the mirror — and no search for them: the mirror is current.
    expect(await crm.findByPhone('+14155550134')).toEqual([]);
    expect(await crm.findByPhone('+17185550142')).toEqual([]);
    expect(await crm.findByPhone('+13125550188')).toEqual([]);
    expect(org.apiCalls).toBe(calls);
  });

  it('resumes an interrupted initial sync after the last page it wrote', async () => {
    seedOrg(900);
    // The connection drops on the third page of contacts.
    let pages = 0;
    org.failNext(1, { kind: 'drop', after: false }, (method, path) => method === 'GET' && /\/query\/01g/.test(path) && ++pages === 2);
    const first = await adapter();
    const partial = await first.health();
    expect(partial.sync.state).toBe('initial');
    expect(partial.sync.synced).toBeGreaterThan(0);
    expect(partial.sync.synced).toBeLessThan(partial.sync.total);
    expect(partial.sync.lastError).toBeTruthy();
    await first.stop();
    // A restart (a new adapter on the same database) goes on from the cursor, not from the start.
    const restarted = await adapter();
    const done = await restarted.health();
    expect(done.sync).toMatchObject({ state: 'ready', synced: 20 + 900 + 1 });
    const resumed = org.requests.filter((r) => r.q?.includes('FROM Contact WHERE Id >'));
    expect(resumed.length).toBe(1);
    expect(await store.db.selectFrom('sf_records').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).toMatchObject({ n: expect.anything() });
    expect(await restarted.mirror.count()).toBe(20 + 900 + 1);
  });

  it('asks SOSL about a number the mirror lacks while polling fails, once, and keeps what it finds', async () => {
    const crm = await adapter();
    // In the org and searchable, but not mirrored yet (changed after the last poll).
    const late = org.seed('Contact', { FirstName: 'Late', LastName: 'Arrival', Phone: '415 555 0177' }, { indexed: true });
    // While the mirror is current a miss costs nothing (what SOSL could find, the next poll brings).
    let before = org.apiCalls;
    expect(await crm.findByPhone('+14155550177')).toEqual([]);
    expect(org.apiCalls).toBe(before);
    // The poll fails: the mirror may be behind, so a miss asks Salesforce's search.
    org.failNext(1, { kind: 'status', status: 503, errorCode: 'SERVER_UNAVAILABLE', message: 'Service temporarily unavailable', after: false }, (m, p) => p === '/composite');
    await crm.syncNow();
    expect((await crm.health()).sync.lastError).toBeTruthy();
    before = org.apiCalls;
    expect((await crm.findByPhone('+14155550177'))[0]).toMatchObject({ ref: { id: late }, name: 'Late Arrival' });
    expect(org.requests.at(-1)).toMatchObject({ path: '/services/data/v62.0/search/', status: 200 });
    expect(org.requests.at(-1)!.q).toBe(
      'FIND {4155550177 OR 14155550177} IN PHONE FIELDS RETURNING Account(Id, Name, Phone, SystemModstamp LIMIT 20), Contact(Id, FirstName, LastName, Title, Email, AccountId, Phone, MobilePhone, HomePhone, OtherPhone, AssistantPhone, SystemModstamp LIMIT 20), Lead(Id, FirstName, LastName, Title, Company, Email, Phone, MobilePhone, IsConverted, SystemModstamp WHERE IsConverted = false LIMIT 20)',
    );
    expect((await crm.findByPhone('+14155550177'))[0]?.ref.id).toBe(late);
    expect(await crm.findByPhone('+19995550100')).toEqual([]);
    expect(await crm.findByPhone('+19995550100')).toEqual([]);
    expect(org.apiCalls - before).toBe(2);
  });

  it('Add contact: matched at once, one contact however often it is clicked, no duplicate after the index lag', async () => {
    const crm = await adapter();
    const number = '+13125550777';
    const key = 'add-contact|call-1|+13125550777';
    const [a, b] = await Promise.all([
      crm.addContact({ firstName: 'Ada', lastName: 'Lovelace', phone: number }, { key, userId: null }),
      crm.addContact({ firstName: 'Ada', lastName: 'Lovelace', phone: number }, { key, userId: null }),
    ]);
    expect(a.record.ref.id).toBe(b.record.ref.id);
    expect([a.created, b.created].sort()).toEqual([false, true]);
    expect(org.get(a.record.ref.id)).toMatchObject({ FirstName: 'Ada', LastName: 'Lovelace', Phone: '+13125550777' });
    // The next call from the number, a second later: Salesforce's search cannot see the contact for
    // 15 minutes, the mirror can — no "unknown caller", no second Add contact.
    const calls = org.apiCalls;
    expect((await crm.findByPhone(number))[0]).toMatchObject({ ref: { type: 'contact', id: a.record.ref.id }, name: 'Ada Lovelace' });
    expect(org.apiCalls).toBe(calls);
    org.advance(900);
    await crm.syncNow();
    expect((await crm.findByPhone(number)).map((m) => m.ref.id)).toEqual([a.record.ref.id]);
    const again = await crm.addContact({ firstName: 'Ada', lastName: 'Lovelace', phone: number }, { key, userId: null });
    expect(again).toMatchObject({ created: false, record: { ref: { id: a.record.ref.id } } });
    expect(org.list('Contact').filter((c) => c.Phone === number)).toHaveLength(1);
  });

  it("offers the existing record when the org's duplicate rule refuses the new contact", async () => {
    const existing = org.seed('Contact', { FirstName: 'Grace', LastName: 'Hopper', Phone: '(415) 555-1212' }, { indexed: true });
    org.duplicateRule = { enabled: true, allowSave: false };
    const crm = await adapter();
    const result = await crm.addContact({ firstName: 'G.', lastName: 'Hopper', phone: '+14155551212' }, { key: 'add-contact|call-2|+14155551212', userId: null });
    expect(result).toMatchObject({ created: false, duplicate: true, record: { ref: { type: 'contact', id: existing }, name: 'Grace Hopper' } });
    expect(org.list('Contact')).toHaveLength(1);
    expect(org.requests.find((r) => r.path.endsWith('/sobjects/Contact/'))?.status).toBe(400);
  });

  it('gets a new token when the session expired, replays once, and does not loop on a second 401', async () => {
    const crm = await adapter();
    const tokens = org.tokenRequests;
    org.expireTokens();
    org.seed('Contact', { LastName: 'After Expiry', Phone: '+1 206 555 0100' }, { indexed: true });
    const polls = org.requests.filter((r) => r.path.endsWith('/composite')).length;
    await crm.syncNow();
    expect((await crm.findByPhone('+12065550100'))[0]?.name).toBe('After Expiry');
    expect(org.tokenRequests - tokens).toBe(1);
    expect(org.requests.filter((r) => r.path.endsWith('/composite')).slice(polls).map((r) => r.status)).toEqual([401, 200]);

    // A session that dies again right after the new token: an error, after exactly two tries.
    org.failNext(2, { kind: 'status', status: 401, errorCode: 'INVALID_SESSION_ID', message: 'Session expired or invalid', after: false });
    const searches = org.requests.length;
    await expect(crm.client!.request('GET', '/limits')).rejects.toThrow(/401/);
    expect(org.requests.slice(searches).filter((r) => r.api).length).toBe(2);
  });

  function callLog(i: number, over: Partial<CallLog> = {}): CallLog {
    const started = new Date(Date.UTC(2026, 10, 25, 14, 3, i));
    return {
      key: `call:c-${i}:u-alice`,
      userId: 'u-alice',
      direction: 'inbound',
      counterpart: { number: '+14155550134', display: '+14155550134' },
      record: null,
      startedAt: started.toISOString(),
      answeredAt: new Date(started.getTime() + 4000).toISOString(),
      endedAt: new Date(started.getTime() + 191_000).toISOString(),
      durationS: 187,
      disposition: 'answered',
      answeredDevice: 'Chrome on Linux',
      answeredElsewhereBy: null,
      quality: { mos: 4.3, jitterMs: 3, lossPct: 0, rttMs: 21 },
      notes: 'Wants a quote',
      ...over,
    };
  }

  /** An outbox on the adapter, on the stand-in's clock (which the test moves: backoff and the API pause follow it). */
  function outboxFor(crm: SalesforceCrm, clock: () => number): ActivityOutbox {
    const outbox = new ActivityOutbox({ store, crm, log, clock, pollMs: 3_600_000, baseBackoffMs: 1000, maxBackoffMs: 60_000 });
    return outbox;
  }

  async function put(logs: CallLog[], now: string) {
    await store.db.transaction().execute((trx) => enqueue(trx, logs.map((l) => ({ key: l.key, userId: l.userId, item: { kind: 'call' as const, log: l } })), now));
  }

  it('logs a call as exactly one completed call Task on the matched contact, however often it is delivered', async () => {
    const { acme, jane } = seedOrg(5);
    org.addUser('alice@ringside.example', 'alice@ringside.example', 'Alice Agent');
    const crm = new SalesforceCrm({ store, phones, settings: settings(), log, userEmail: async (id) => (id === 'u-alice' ? 'alice@ringside.example' : undefined), pageSize: 200, clock: () => org.now() });
    adapters.push(crm);
    await crm.start();
    await crm.syncNow();
    const outbox = outboxFor(crm, () => org.now());
    const log1 = callLog(1, { record: { type: 'contact', id: jane } });
    await put([log1], new Date(org.now()).toISOString());
    await outbox.drain();
    expect(await outbox.undelivered()).toEqual([]);
    const tasks = org.list('Task');
    expect(tasks).toHaveLength(1);
    expect(tasks[0]).toMatchObject({
      TaskSubtype: 'Call',
      Type: 'Call',
      CallType: 'Inbound',
      CallDurationInSeconds: 187,
      CallDisposition: 'Answered',
      CallObject: 'call:c-1:u-alice',
      Ringside_Call_Id__c: 'call:c-1:u-alice',
      WhoId: jane,
      WhatId: acme,
      OwnerId: org.userId('alice@ringside.example'),
      Status: 'Completed',
      ActivityDate: '2026-11-25',
      Subject: 'Inbound call from Jane Doe (+1 415 555 0134)',
    });
    expect(String(tasks[0]!.Description)).toMatch(/^Wants a quote\n[\s\S]*Call quality: MOS 4.3, jitter 3 ms, loss 0 %, round trip 21 ms/);
    // Notes edited afterwards and the browser's late quality report rewrite the same Task.
    await crm.updateCallNotes('call:c-1:u-alice', 'Sent the quote');
    await crm.updateCallQuality('call:c-1:u-alice', { jitterMs: 30, lossPct: 2, rttMs: 180, mos: 3.6 });
    expect(org.list('Task')).toHaveLength(1);
    expect(String(org.list('Task')[0]!.Description)).toMatch(/^Sent the quote\n[\s\S]*Call quality: MOS 3.6, jitter 30 ms, loss 2 %, round trip 180 ms/);
    // The answer was lost after Salesforce saved the Task (a 503 after the write): delivered again, still one Task.
    const log2 = callLog(2, { direction: 'outbound', disposition: 'no-answer', durationS: 0, answeredAt: null, record: { type: 'contact', id: jane } });
    org.failNext(1, { kind: 'status', status: 503, errorCode: 'SERVER_UNAVAILABLE', message: 'Service temporarily unavailable', after: true }, (m, p) => p.startsWith('/composite/'));
    await put([log2], new Date(org.now()).toISOString());
    await outbox.drain();
    expect(org.list('Task')).toHaveLength(2); // saved, but Ringside does not know
    org.advance(5);
    await outbox.drain();
    const byKey = org.list('Task').filter((t) => t.CallObject === 'call:c-2:u-alice');
    expect(byKey).toHaveLength(1);
    expect(byKey[0]).toMatchObject({ CallType: 'Outbound', CallDisposition: 'No answer', CallDurationInSeconds: 0, TaskSubtype: 'Call', Status: 'Completed' });
    expect(await outbox.undelivered()).toEqual([]);
    await outbox.close();
  });

  it("makes each agent the owner of their Tasks, looking the whole team up in one query", async () => {
    seedOrg(5);
    const team = ['ada', 'bob', 'cy', 'dee'].map((n) => ({ id: `u-${n}`, email: `${n}@ringside.example` }));
    for (const u of team.slice(0, 3)) org.addUser(`${u.email.split('@')[0]}.sf@acme.example`, u.email);
    const crm = new SalesforceCrm({
      store,
      phones,
      settings: settings({ userMap: { 'cy@ringside.example': 'bob.sf@acme.example' } }),
      log,
      userEmail: async (id) => team.find((u) => u.id === id)?.email,
      userIds: async () => team.map((u) => u.id),
      clock: () => org.now(),
    });
    adapters.push(crm);
    await crm.start();
    await crm.syncNow();
    const userQueries = () => org.requests.filter((r) => r.q?.includes('FROM User')).length;
    const before = userQueries();
    await crm.logCalls([callLog(10, { userId: 'u-ada', key: 'call:c-10:u-ada' })]);
    await crm.logCalls(team.slice(1).map((u, i) => callLog(11 + i, { userId: u.id, key: `call:c-${11 + i}:${u.id}` })));
    expect(userQueries() - before).toBe(1);
    const owner = (key: string) => org.list('Task').find((t) => t.CallObject === key)?.OwnerId;
    expect(owner('call:c-10:u-ada')).toBe(org.userId('ada.sf@acme.example'));
    expect(owner('call:c-11:u-bob')).toBe(org.userId('bob.sf@acme.example'));
    expect(owner('call:c-12:u-cy')).toBe(org.userId('bob.sf@acme.example')); // SALESFORCE_USER_MAP
    expect(owner('call:c-13:u-dee')).toBe(org.userId(INTEGRATION)); // no Salesforce user: still logged
  });

  it('keeps a video invitation as one Event with its times and link, moved and cancelled in place', async () => {
    const { jane } = seedOrg(5);
    const crm = await adapter();
    const inv = {
      key: 'invitation:5d1e0c7a-2b9f-4c1e-8a3d-0f6b7e9a1c22',
      userId: 'u-alice',
      record: { type: 'contact' as const, id: jane },
      subject: 'Video call with Jane Doe (Ringside)',
      startsAt: '2026-12-01T15:00:00.000Z',
      endsAt: '2026-12-01T15:30:00.000Z',
      link: 'https://ringside.example.com/v/abc123',
      guestEmail: 'jane@acme.example',
      message: 'About the renewal',
      status: 'scheduled' as const,
      sequence: 0,
    };
    const { ref } = await crm.logInvitation(inv);
    expect(org.get(ref)).toMatchObject({
      Subject: 'Video call with Jane Doe (Ringside)',
      StartDateTime: expect.stringMatching(/^2026-12-01T15:00:00/),
      EndDateTime: expect.stringMatching(/^2026-12-01T15:30:00/),
      IsAllDayEvent: false,
      WhoId: jane,
      Location: 'https://ringside.example.com/v/abc123',
      Ringside_Call_Id__c: inv.key,
    });
    expect(String(org.get(ref)!.Description)).toContain('Join link: https://ringside.example.com/v/abc123');
    // Moved, then cancelled: the same Event; a late copy of an older version changes nothing.
    await crm.logInvitation({ ...inv, startsAt: '2026-12-02T09:00:00.000Z', endsAt: '2026-12-02T09:30:00.000Z', sequence: 1 });
    await crm.logInvitation({ ...inv, status: 'cancelled', startsAt: '2026-12-02T09:00:00.000Z', endsAt: '2026-12-02T09:30:00.000Z', sequence: 2 });
    await crm.logInvitation({ ...inv, sequence: 1 });
    expect(org.list('Event')).toHaveLength(1);
    expect(org.get(ref)).toMatchObject({ Subject: 'Cancelled: Video call with Jane Doe (Ringside)', StartDateTime: expect.stringMatching(/^2026-12-02T09:00:00/), ShowAs: 'Free' });
  });

  it('slows down under the API reserve: partial batches at most once a minute, the rest kept in the outbox', async () => {
    seedOrg(5);
    const crm = new SalesforceCrm({ store, phones, settings: settings(), log, userEmail: async () => undefined, clock: () => org.now(), slowIntervalMs: 60_000 });
    adapters.push(crm);
    await crm.start();
    await crm.syncNow();
    const outbox = outboxFor(crm, () => org.now());
    org.setUsage(95_000, 100_000); // 5 % left, under the 10 % reserve
    await put([callLog(20)], new Date(org.now()).toISOString());
    await outbox.drain(); // the answer says how little is left
    expect((await crm.health()).api).toMatchObject({ low: true, used: 95_001, max: 100_000 });
    await put([callLog(21)], new Date(org.now()).toISOString());
    await outbox.drain(); // one partial batch now
    await put([callLog(22), callLog(23)], new Date(org.now()).toISOString());
    await outbox.drain(); // and then not for a minute: kept, no attempt spent
    const waiting = await outbox.undelivered();
    expect(waiting.map((r) => [r.idempotency_key, Number(r.attempts)])).toEqual([
      ['call:c-22:u-alice', 0],
      ['call:c-23:u-alice', 0],
    ]);
    expect(waiting[0]!.last_error).toMatch(/allocation low/);
    expect(org.list('Task')).toHaveLength(2);
    org.advance(61);
    await outbox.drain();
    expect(await outbox.undelivered()).toEqual([]);
    expect(org.list('Task').map((t) => t.CallObject).sort()).toEqual(['call:c-20:u-alice', 'call:c-21:u-alice', 'call:c-22:u-alice', 'call:c-23:u-alice']);
    await outbox.close();
  });

  it('holds the call logs while the daily API limit is exceeded and delivers every one later, none twice', async () => {
    seedOrg(5);
    const crm = new SalesforceCrm({ store, phones, settings: settings(), log, userEmail: async () => undefined, pageSize: 200, clock: () => org.now(), limitPauseMs: 60_000 });
    adapters.push(crm);
    await crm.start();
    await crm.syncNow();
    const outbox = outboxFor(crm, () => org.now());
    // The org's allocation runs out: 40 calls end over the next hours.
    org.setUsage(100_000, 100_000);
    const logs = Array.from({ length: 40 }, (_, i) => callLog(i));
    for (let round = 0; round < 4; round++) {
      await put(logs.slice(round * 10, round * 10 + 10), new Date(org.now()).toISOString());
      await outbox.drain();
      org.advance(61);
      await outbox.drain();
    }
    expect(org.list('Task')).toHaveLength(0);
    expect((await outbox.undelivered()).length).toBe(40);
    expect(org.requests.filter((r) => r.status === 403).length).toBeGreaterThan(0);
    // While paused, Ringside does not hammer the org: far fewer refused requests than deliveries tried.
    expect(org.requests.filter((r) => r.status === 403).length).toBeLessThanOrEqual(8);
    expect((await crm.health()).api.limitedUntil).not.toBeNull();
    // The rolling 24 hours move on: the allocation is back.
    org.setUsage(0, 100_000);
    org.advance(120);
    await outbox.drain();
    const tasks = org.list('Task');
    expect(tasks).toHaveLength(40);
    expect(new Set(tasks.map((t) => t.CallObject)).size).toBe(40);
    expect(await outbox.undelivered()).toEqual([]);
    // Batched: the 40 logs went in one or two requests, not forty.
    const writes = org.requests.filter((r) => r.path.includes('/composite/sobjects') && r.status === 200);
    expect(writes.length).toBeLessThanOrEqual(2);
    await outbox.close();
  });

  it('reports settings that cannot work instead of failing on the first call', async () => {
    const noKey = await adapter({ privateKeyFile: '/nonexistent/server.key' });
    expect((await noKey.health()).problem).toMatch(/SALESFORCE_PRIVATE_KEY_FILE \/nonexistent\/server.key cannot be read/);
    await expect(noKey.findByPhone('+14155550134')).resolves.toEqual([]);
    const wrongApp = await adapter({ clientId: 'not-our-app' });
    expect((await wrongApp.health())).toMatchObject({ ok: false, problem: expect.stringMatching(/invalid_client_id.*SALESFORCE_CLIENT_ID/) });
    const otherKey = makeAppKeys();
    try {
      const wrongKey = await adapter({ privateKeyFile: otherKey.privateKeyFile });
      expect((await wrongKey.health()).problem).toMatch(/invalid_grant/);
    } finally {
      rmSync(otherKey.dir, { recursive: true, force: true });
    }
    const unreachable = await adapter({ loginUrl: 'http://127.0.0.1:1' });
    expect((await unreachable.health()).problem).toMatch(/cannot reach SALESFORCE_LOGIN_URL/);
    expect(log.lines.filter((l) => l.level === 'error').length).toBeGreaterThanOrEqual(4);
  });
});
