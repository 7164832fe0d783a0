import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../store/index.ts';
import { dropPgSchema, ENGINES, freshPgSchema, TEST_DATABASE_URL } from '../../test/support/engines.ts';
import { PhoneIndex, PhoneNumbers } from './index.ts';

const numbers = new PhoneNumbers({ defaultRegion: 'US', matchDigits: 9 });

describe('phone numbers typed the way people type them', () => {
  it.each([
    ['(415) 555-0134', '+14155550134'],
    ['415.555.0134', '+14155550134'],
    ['415-555-0134', '+14155550134'],
    ['+1 415 555 0134', '+14155550134'],
    ['1 (415) 555-0134', '+14155550134'],
    ['4155550134', '+14155550134'],
    ['415/555-0134', '+14155550134'],
    ['415-555-0134 x204', '+14155550134'],
    ['+44 20 7946 0958', '+442079460958'],
    ['0044 20 7946 0958', '+442079460958'],
    ['011 49 30 1234567', '+49301234567'],
  ])('%s is %s', (raw, e164) => {
    expect(numbers.normalize(raw).e164).toBe(e164);
  });

  it('keeps the raw text and the extension, and formats for people', () => {
    const n = numbers.normalize('415-555-0134 x204');
    expect(n).toMatchObject({ raw: '415-555-0134 x204', ext: '204', display: '+1 415 555 0134 ext. 204' });
  });

  it.each(['555-01', 'n/a', 'ask reception', '12345', ''])('%j is not a valid number', (raw) => {
    expect(numbers.normalize(raw).e164).toBeNull();
  });

  it('uses the configured default region for numbers without a country code', () => {
    const gb = new PhoneNumbers({ defaultRegion: 'GB', matchDigits: 9 });
    expect(gb.normalize('020 7946 0958').e164).toBe('+442079460958');
    expect(numbers.normalize('020 7946 0958').e164).toBeNull();
  });
});

describe.each(ENGINES)('phone index on %s', (engine) => {
  let store: Store;
  let schema: string | undefined;
  const index = new PhoneIndex(numbers);

  beforeAll(async () => {
    schema = engine === 'postgres' ? freshPgSchema() : undefined;
    store = await Store.open(engine === 'postgres' ? { databaseUrl: TEST_DATABASE_URL, pgSchema: schema! } : { dataDir: ':memory:' });
    await store.migrate();
    await index.write(store.db, 'contact', 'c-national', { work: '(415) 555-0134 x12', mobile: null });
    await index.write(store.db, 'lead', 'l-intl', { phone: '+1 415 555 0134' });
    await index.write(store.db, 'contact', 'c-german-national', { home: '030 1234567' });
    await index.write(store.db, 'contact', 'c-german-intl', { work: '+49 30 7654321' });
    await index.write(store.db, 'account', 'a-invalid', { phone: 'call reception' });
  });
  afterAll(async () => {
    await store.close();
    if (schema) await dropPgSchema(schema);
  });

  it('finds every record with the number whatever format the caller presents', async () => {
    for (const input of ['+14155550134', '4155550134', '(415) 555-0134', '1-415-555-0134', '+1 415 555 0134']) {
      const found = await index.lookupByNumber(store.db, input);
      expect(found.map((m) => [m.recordType, m.recordId, m.match])).toEqual([
        ['contact', 'c-national', 'exact'],
        ['lead', 'l-intl', 'exact'],
      ]);
    }
  });

  it('falls back to the last digits for a number stored without its country code, ranked after exact matches', async () => {
    const found = await index.lookupByNumber(store.db, '+49 30 1234567');
    expect(found).toEqual([
      { recordType: 'contact', recordId: 'c-german-national', field: 'home', raw: '030 1234567', e164: null, match: 'suffix' },
    ]);
  });

  it('never matches a number stored with its country code by its tail alone', async () => {
    expect(await index.lookupByNumber(store.db, '+1 212 307 654 321')).toEqual([]);
    expect(await index.lookupByNumber(store.db, '+33 30 7654321')).toEqual([]);
  });

  it('answers nothing for unknown, short and garbage numbers', async () => {
    for (const input of ['+1 212 555 0100', '1001', 'anonymous', '', "'; drop table phone_index; --"]) {
      expect(await index.lookupByNumber(store.db, input)).toEqual([]);
    }
  });

  it('replaces a record’s entries when it is written again', async () => {
    await index.write(store.db, 'contact', 'c-moving', { work: '+1 312 555 0111' });
    await index.write(store.db, 'contact', 'c-moving', { work: '+1 312 555 0122' });
    expect(await index.lookupByNumber(store.db, '+13125550111')).toEqual([]);
    expect((await index.lookupByNumber(store.db, '+13125550122')).map((m) => m.recordId)).toEqual(['c-moving']);
  });
});
