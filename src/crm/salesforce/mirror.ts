/**
 * The local mirror of the org's phone index: every Contact, Lead and Account with its phone
 * fields normalised the way the built-in phone index is (E.164, plus the last-digits key for
 * numbers written without a country code), so a ringing call is matched from Ringside's own
 * database in milliseconds, without an API call.
 */
import type { Kysely, Transaction } from 'kysely';
import type { PhoneNumbers } from '../../phone/index.ts';
import type { Database, RecordType, SfRecordsTable } from '../../store/index.ts';

type Db = Kysely<Database> | Transaction<Database>;

/** One record as Salesforce returns it, reduced to what the mirror keeps. */
export interface MirrorRecord {
  id: string;
  type: RecordType;
  name: string;
  title: string | null;
  email: string | null;
  accountId: string | null;
  company: string | null;
  modstamp: string | null;
  /** Salesforce field name → the number as typed (null/empty: none). */
  phones: Record<string, string | null>;
}

export interface MirrorMatch {
  record: SfRecordsTable;
  field: string;
  match: 'exact' | 'suffix';
}

const TYPE_RANK: Record<RecordType, number> = { contact: 0, lead: 1, account: 2 };
/** Rows per INSERT (SQLite and PostgreSQL both cap bound parameters). */
const CHUNK = 400;

export class SalesforceMirror {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly phones: PhoneNumbers,
    private readonly clock: () => number,
  ) {}

  /** Writes records (new or changed) with their phone rows; call inside a transaction. */
  async write(trx: Db, records: MirrorRecord[]): Promise<void> {
    if (records.length === 0) return;
    const now = new Date(this.clock()).toISOString();
    for (let i = 0; i < records.length; i += CHUNK) {
      const chunk = records.slice(i, i + CHUNK);
      const ids = chunk.map((r) => r.id);
      await trx.deleteFrom('sf_phones').where('record_id', 'in', ids).execute();
      await trx
        .insertInto('sf_records')
        .values(
          chunk.map((r) => ({
            id: r.id,
            record_type: r.type,
            name: r.name,
            title: r.title,
            email: r.email?.trim().toLowerCase() || null,
            account_id: r.accountId,
            company: r.company,
            modstamp: r.modstamp,
            synced_at: now,
          })),
        )
        .onConflict((oc) =>
          oc.column('id').doUpdateSet((eb) => ({
            record_type: eb.ref('excluded.record_type'),
            name: eb.ref('excluded.name'),
            title: eb.ref('excluded.title'),
            email: eb.ref('excluded.email'),
            account_id: eb.ref('excluded.account_id'),
            company: eb.ref('excluded.company'),
            modstamp: eb.ref('excluded.modstamp'),
            synced_at: eb.ref('excluded.synced_at'),
          })),
        )
        .execute();
      const phoneRows = chunk.flatMap((r) =>
        Object.entries(r.phones)
          .filter((e): e is [string, string] => typeof e[1] === 'string' && e[1].trim() !== '')
          .map(([field, raw]) => {
            const n = this.phones.normalize(raw);
            return { record_id: r.id, record_type: r.type, field, raw, e164: n.e164, tail: n.tail };
          })
          .filter((p) => p.e164 !== null || p.tail !== null),
      );
      for (let j = 0; j < phoneRows.length; j += CHUNK) await trx.insertInto('sf_phones').values(phoneRows.slice(j, j + CHUNK)).execute();
    }
  }

  /** Drops records deleted (or leads converted) in Salesforce. */
  async remove(trx: Db, ids: string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += CHUNK) {
      const chunk = ids.slice(i, i + CHUNK);
      await trx.deleteFrom('sf_phones').where('record_id', 'in', chunk).execute();
      await trx.deleteFrom('sf_records').where('id', 'in', chunk).execute();
    }
  }

  /**
   * Every record with this number, best first — the same ranking as the built-in phone index:
   * exact E.164 matches, then numbers stored without a country code ending in the same digits;
   * contacts before leads before accounts.
   */
  async lookup(number: string, limit = 50): Promise<MirrorMatch[]> {
    const keys = this.phones.queryKeys(number);
    const hits: { record_id: string; record_type: RecordType; field: string; match: 'exact' | 'suffix' }[] = [];
    const columns = ['record_id', 'record_type', 'field', 'e164'] as const;
    if (keys.e164) {
      for (const r of await this.db.selectFrom('sf_phones').select(columns).where('e164', '=', keys.e164).limit(limit).execute()) hits.push({ ...r, match: 'exact' });
    }
    if (keys.tail && hits.length < limit) {
      const rows = await this.db.selectFrom('sf_phones').select(columns).where('tail', '=', keys.tail).limit(limit).execute();
      for (const r of rows) if (!keys.e164 || r.e164 !== keys.e164) hits.push({ ...r, match: 'suffix' });
    }
    if (hits.length === 0) return [];
    hits.sort((a, b) => (a.match === b.match ? 0 : a.match === 'exact' ? -1 : 1) || TYPE_RANK[a.record_type] - TYPE_RANK[b.record_type] || a.field.localeCompare(b.field));
    const records = await this.getMany(hits.map((h) => h.record_id));
    const out: MirrorMatch[] = [];
    const seen = new Set<string>();
    for (const h of hits) {
      const record = records.get(h.record_id);
      if (!record || seen.has(h.record_id)) continue;
      seen.add(h.record_id);
      out.push({ record, field: h.field, match: h.match });
    }
    return out.slice(0, limit);
  }

  async get(id: string): Promise<SfRecordsTable | undefined> {
    return this.db.selectFrom('sf_records').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async getMany(ids: string[]): Promise<Map<string, SfRecordsTable>> {
    const out = new Map<string, SfRecordsTable>();
    const unique = [...new Set(ids)];
    for (let i = 0; i < unique.length; i += CHUNK) {
      for (const r of await this.db.selectFrom('sf_records').selectAll().where('id', 'in', unique.slice(i, i + CHUNK)).execute()) out.set(r.id, r);
    }
    return out;
  }

  async byEmail(email: string, limit = 20): Promise<SfRecordsTable[]> {
    return this.db
      .selectFrom('sf_records')
      .selectAll()
      .where('email', '=', email.trim().toLowerCase())
      .where('record_type', 'in', ['contact', 'lead'])
      .limit(limit)
      .execute();
  }

  async count(): Promise<number> {
    const row = await this.db.selectFrom('sf_records').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(row.n);
  }
}
