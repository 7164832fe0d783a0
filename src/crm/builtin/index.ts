/**
 * The built-in CRM: accounts, contacts, leads and their activity timelines, stored in Ringside's
 * own database. Every write updates the phone index in the same transaction, so a number is
 * findable the moment the record is saved.
 *
 * Concurrent edits: optimistic concurrency. Every record has a `version`; an update names the
 * version it edited and gets 409 (`ConflictError`, carrying the current record) when someone else
 * saved in between — nobody's change is silently overwritten.
 */
import { createHash } from 'node:crypto';
import { sql, type Expression, type ExpressionBuilder, type SqlBool, type Transaction } from 'kysely';
import type { PhoneIndex, PhoneNumbers } from '../../phone/index.ts';
import {
  isUniqueViolation,
  likePattern,
  newId,
  nowIso,
  type Database,
  type RecordType,
  type Store,
  type Account as AccountRow,
  type Activity as ActivityRow,
  type Contact as ContactRecordRow,
  type Lead as LeadRow,
} from '../../store/index.ts';
import { ConflictError, NotFoundError, ValidationError } from '../../shared/errors.ts';
import type { AddContactResult, CallLog, CallQuality, CrmMatch, CrmPort, CrmRecordSummary, InvitationLog, NewContact } from '../port.ts';
import type {
  Account,
  AccountInput,
  AccountPatch,
  Activity,
  Contact,
  ContactInput,
  ContactPatch,
  Lead,
  LeadInput,
  LeadPatch,
  ListQuery,
  NoteInput,
  PageOf,
  PhoneField,
  RecordRef,
} from '../schemas.ts';

const CONTACT_PHONES = { work: 'phone_work', mobile: 'phone_mobile', home: 'phone_home', other: 'phone_other' } as const;
const LEAD_PHONES = { phone: 'phone', mobile: 'mobile' } as const;
const ACCOUNT_PHONES = { phone: 'phone' } as const;

export interface BuiltinCrmOptions {
  store: Store;
  phoneIndex: PhoneIndex;
  /**
   * Base URL for record links (`/contacts/<id>` is appended); a function is read at each use, for
   * a server that learns its port only once listening (PORT=0).
   */
  baseUrl?: string | (() => string);
  clock?: () => number;
}

type Db = Store['db'];
type Trx = Transaction<Database>;

/** Rows of the contact list query. */
type ContactRow = ContactRecordRow & { account_name: string | null };

export class BuiltinCrm implements CrmPort {
  readonly kind = 'builtin';
  private readonly db: Db;
  private readonly phones: PhoneNumbers;
  private readonly clock: () => number;

  constructor(private readonly options: BuiltinCrmOptions) {
    this.db = options.store.db;
    this.phones = options.phoneIndex.numbers;
    this.clock = options.clock ?? Date.now;
  }

  // ---------------------------------------------------------------- CRM port

  async findByPhone(number: string): Promise<CrmMatch[]> {
    const matches = await this.options.phoneIndex.lookupByNumber(this.db, number);
    const out: CrmMatch[] = [];
    for (const m of matches) {
      const summary = await this.getRecord({ type: m.recordType, id: m.recordId });
      if (summary) out.push({ ...summary, field: m.field, match: m.match });
    }
    return out;
  }

  async findByEmail(email: string): Promise<CrmRecordSummary[]> {
    const e = email.trim().toLowerCase();
    const contacts = await this.contactQuery().where(sql<SqlBool>`lower(c.email) = ${e}`).limit(20).execute();
    const leads = await this.db.selectFrom('leads').selectAll().where(sql<SqlBool>`lower(email) = ${e}`).limit(20).execute();
    return [
      ...contacts.map((c) => this.contactSummary(c as ContactRow)),
      ...leads.map((l) => this.leadSummary(l)),
    ];
  }

  async getRecord(ref: RecordRef): Promise<CrmRecordSummary | null> {
    switch (ref.type) {
      case 'contact': {
        const row = await this.contactQuery().where('c.id', '=', ref.id).executeTakeFirst();
        return row ? this.contactSummary(row as ContactRow) : null;
      }
      case 'lead': {
        const row = await this.db.selectFrom('leads').selectAll().where('id', '=', ref.id).executeTakeFirst();
        return row ? this.leadSummary(row) : null;
      }
      case 'account': {
        const row = await this.db.selectFrom('accounts').selectAll().where('id', '=', ref.id).executeTakeFirst();
        return row ? { ref, name: row.name, title: null, accountName: null, url: this.recordUrl(ref) } : null;
      }
    }
  }

  async createContact(contact: NewContact): Promise<CrmRecordSummary> {
    const created = await this.createContactRecord({
      first_name: contact.firstName,
      last_name: contact.lastName,
      phone_work: contact.phone ?? null,
      email: contact.email ?? null,
      account_id: contact.accountId ?? null,
      title: contact.title ?? null,
    });
    return (await this.getRecord({ type: 'contact', id: created.id }))!;
  }

  /** One contact per key: its id is derived from the key, so a repeat finds the first instead of making another. */
  async addContact(contact: NewContact, options: { key: string; userId: string | null }): Promise<AddContactResult> {
    const id = keyedUuid(options.key);
    let created = true;
    try {
      await this.createContactRecord(
        { first_name: contact.firstName, last_name: contact.lastName, phone_work: contact.phone ?? null, email: contact.email ?? null, account_id: contact.accountId ?? null, title: contact.title ?? null },
        options.userId,
        id,
      );
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      created = false; // the same Add contact, again
    }
    return { record: (await this.getRecord({ type: 'contact', id }))!, created, duplicate: false };
  }

  recordUrl(ref: RecordRef): string {
    const base = typeof this.options.baseUrl === 'function' ? this.options.baseUrl() : (this.options.baseUrl ?? '');
    return `${base.replace(/\/$/, '')}/${ref.type}s/${ref.id}`;
  }

  /** A call on the record's timeline; a second delivery with the same key changes nothing. */
  async logCall(log: CallLog): Promise<{ ref: string }> {
    if (this.failures?.shouldFail()) throw new Error('built-in CRM unavailable (injected failure)');
    const existing = await this.db.selectFrom('activities').select('id').where('idempotency_key', '=', log.key).executeTakeFirst();
    if (existing) return { ref: existing.id };
    const id = newId();
    const who = log.counterpart.display && log.counterpart.number && log.counterpart.display !== log.counterpart.number
      ? `${log.counterpart.display} (${this.phones.display(log.counterpart.number)})`
      : log.counterpart.number ? this.phones.display(log.counterpart.number) : log.counterpart.display ?? 'unknown number';
    await this.db
      .insertInto('activities')
      .values({
        id,
        kind: 'call',
        record_type: log.record?.type ?? null,
        record_id: log.record?.id ?? null,
        user_id: log.userId,
        subject: callSubject(log, who),
        body: log.notes,
        occurred_at: log.startedAt,
        ends_at: log.endedAt,
        duration_s: log.durationS,
        direction: log.direction,
        disposition: log.disposition,
        idempotency_key: log.key,
        details: JSON.stringify({
          counterpart: log.counterpart,
          answered_at: log.answeredAt,
          answered_device: log.answeredDevice,
          answered_elsewhere_by: log.answeredElsewhereBy,
          quality: log.quality,
          unmatched: log.record === null,
          video: log.video ?? false,
        }),
        created_at: nowIso(this.clock),
      })
      .onConflict((oc) => oc.column('idempotency_key').doNothing())
      .execute();
    const row = await this.db.selectFrom('activities').select('id').where('idempotency_key', '=', log.key).executeTakeFirstOrThrow();
    return { ref: row.id };
  }

  async updateCallNotes(key: string, notes: string | null): Promise<void> {
    if (this.failures?.shouldFail()) throw new Error('built-in CRM unavailable (injected failure)');
    const result = await this.db.updateTable('activities').set({ body: notes }).where('idempotency_key', '=', key).executeTakeFirst();
    // Not logged yet (its delivery is pending or retrying): fail, so the outbox tries again later.
    if (Number(result.numUpdatedRows) === 0) throw new Error('the call is not logged yet');
  }

  async updateCallQuality(key: string, quality: CallQuality): Promise<void> {
    if (this.failures?.shouldFail()) throw new Error('built-in CRM unavailable (injected failure)');
    await this.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('activities').select(['id', 'details']).where('idempotency_key', '=', key).executeTakeFirst();
      if (!row) throw new Error('the call is not logged yet');
      const details = { ...(row.details ? (JSON.parse(row.details) as Record<string, unknown>) : {}), quality };
      await trx.updateTable('activities').set({ details: JSON.stringify(details) }).where('id', '=', row.id).execute();
    });
  }

  async logInvitation(log: InvitationLog): Promise<{ ref: string }> {
    if (this.failures?.shouldFail()) throw new Error('built-in CRM unavailable (injected failure)');
    const values = {
      kind: 'meeting' as const,
      record_type: log.record?.type ?? null,
      record_id: log.record?.id ?? null,
      user_id: log.userId,
      subject: log.status === 'cancelled' ? `Cancelled: ${log.subject}` : log.subject,
      body: log.message,
      occurred_at: log.startsAt,
      ends_at: log.endsAt,
      duration_s: Math.round((Date.parse(log.endsAt) - Date.parse(log.startsAt)) / 1000),
      direction: 'outbound' as const,
      disposition: log.status,
      details: JSON.stringify({ link: log.link, guest_email: log.guestEmail, sequence: log.sequence, status: log.status }),
    };
    return this.db.transaction().execute(async (trx) => {
      const existing = await trx.selectFrom('activities').select(['id', 'details']).where('idempotency_key', '=', log.key).executeTakeFirst();
      if (!existing) {
        const id = newId();
        await trx.insertInto('activities').values({ id, ...values, idempotency_key: log.key, created_at: nowIso(this.clock) }).execute();
        return { ref: id };
      }
      const known = Number((JSON.parse(existing.details ?? '{}') as { sequence?: number }).sequence ?? -1);
      // A retried older version must not undo a newer change.
      if (log.sequence >= known) await trx.updateTable('activities').set(values).where('id', '=', existing.id).execute();
      return { ref: existing.id };
    });
  }

  async lastActivity(ref: RecordRef): Promise<{ subject: string; at: string } | null> {
    const row = await this.db
      .selectFrom('activities')
      .select(['subject', 'occurred_at'])
      .where('record_type', '=', ref.type)
      .where('record_id', '=', ref.id)
      .orderBy('occurred_at', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row ? { subject: row.subject, at: row.occurred_at } : null;
  }

  /**
   * Failure injection for tests and benchmarks of the delivery path (`CRM_FAIL_RATE`): the
   * built-in CRM then refuses that share of call logs, as an external CRM in an outage would.
   */
  failures: { shouldFail(): boolean } | undefined;

  // ---------------------------------------------------------------- contacts

  async listContacts(query: ListQuery & { accountId?: string }): Promise<PageOf<Contact>> {
    const { limit, offset } = pageOf(query);
    let q = this.contactQuery();
    if (query.accountId) q = q.where('c.account_id', '=', query.accountId);
    const text = query.q?.trim();
    if (text) {
      q = q.where((eb) =>
        this.searchCondition(eb, text, 'contact', 'c.id', ['c.first_name', 'c.last_name', 'c.email', 'a.name', 'c.title']),
      );
    }
    const rows = await q.orderBy('c.last_name').orderBy('c.first_name').orderBy('c.id').limit(limit + 1).offset(offset).execute();
    return page(rows.map((r) => this.toContact(r as ContactRow)), limit, offset);
  }

  async getContact(id: string): Promise<Contact> {
    const row = await this.contactQuery().where('c.id', '=', id).executeTakeFirst();
    if (!row) throw new NotFoundError('Contact');
    return this.toContact(row as ContactRow);
  }

  /** `id` may be given (a key derived id makes a repeated create fail instead of duplicating). */
  async createContactRecord(input: ContactInput, ownerId: string | null = null, id?: string): Promise<Contact> {
    id = await this.insertRecord('contacts', 'contact', CONTACT_PHONES, {
      first_name: input.first_name.trim(),
      last_name: input.last_name.trim(),
      title: blankToNull(input.title),
      email: blankToNull(input.email),
      account_id: input.account_id ?? null,
      phone_work: blankToNull(input.phone_work),
      phone_mobile: blankToNull(input.phone_mobile),
      phone_home: blankToNull(input.phone_home),
      phone_other: blankToNull(input.phone_other),
      owner_id: ownerId,
    }, id);
    return this.getContact(id);
  }

  async updateContact(id: string, patch: ContactPatch): Promise<Contact> {
    await this.updateRecord('contacts', 'contact', id, patch, CONTACT_PHONES, 'Contact');
    return this.getContact(id);
  }


  async deleteContact(id: string): Promise<void> {
    await this.deleteRecord('contacts', 'contact', id, 'Contact');
  }

  // ---------------------------------------------------------------- accounts

  async listAccounts(query: ListQuery): Promise<PageOf<Account>> {
    const { limit, offset } = pageOf(query);
    let q = this.accountQuery();
    const text = query.q?.trim();
    if (text) {
      q = q.where((eb) => this.searchCondition(eb, text, 'account', 'a.id', ['a.name', 'a.industry', 'a.city', 'a.website']));
    }
    const rows = await q.orderBy('a.name').orderBy('a.id').limit(limit + 1).offset(offset).execute();
    return page(rows.map((r) => this.toAccount(r)), limit, offset);
  }

  async getAccount(id: string): Promise<Account> {
    const row = await this.accountQuery().where('a.id', '=', id).executeTakeFirst();
    if (!row) throw new NotFoundError('Account');
    return this.toAccount(row);
  }

  async createAccount(input: AccountInput, ownerId: string | null = null): Promise<Account> {
    const id = await this.insertRecord('accounts', 'account', ACCOUNT_PHONES, {
      name: input.name.trim(),
      website: blankToNull(input.website),
      industry: blankToNull(input.industry),
      phone: blankToNull(input.phone),
      city: blankToNull(input.city),
      country: blankToNull(input.country),
      owner_id: ownerId,
    });
    return this.getAccount(id);
  }

  async updateAccount(id: string, patch: AccountPatch): Promise<Account> {
    await this.updateRecord('accounts', 'account', id, patch, ACCOUNT_PHONES, 'Account');
    return this.getAccount(id);
  }


  async deleteAccount(id: string): Promise<void> {
    await this.deleteRecord('accounts', 'account', id, 'Account');
  }

  /** All accounts by name, for pickers. */
  async accountNames(): Promise<{ id: string; name: string }[]> {
    return this.db.selectFrom('accounts').select(['id', 'name']).orderBy('name').limit(1000).execute();
  }

  // ---------------------------------------------------------------- leads

  async listLeads(query: ListQuery): Promise<PageOf<Lead>> {
    const { limit, offset } = pageOf(query);
    let q = this.db.selectFrom('leads as l').selectAll('l');
    const text = query.q?.trim();
    if (text) {
      q = q.where((eb) => this.searchCondition(eb, text, 'lead', 'l.id', ['l.first_name', 'l.last_name', 'l.email', 'l.company']));
    }
    const rows = await q.orderBy('l.last_name').orderBy('l.first_name').orderBy('l.id').limit(limit + 1).offset(offset).execute();
    return page(rows.map((r) => this.toLead(r)), limit, offset);
  }

  async getLead(id: string): Promise<Lead> {
    const row = await this.db.selectFrom('leads').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new NotFoundError('Lead');
    return this.toLead(row);
  }

  async createLead(input: LeadInput, ownerId: string | null = null): Promise<Lead> {
    const id = await this.insertRecord('leads', 'lead', LEAD_PHONES, {
      first_name: input.first_name.trim(),
      last_name: input.last_name.trim(),
      company: blankToNull(input.company),
      title: blankToNull(input.title),
      email: blankToNull(input.email),
      phone: blankToNull(input.phone),
      mobile: blankToNull(input.mobile),
      status: input.status ?? 'new',
      owner_id: ownerId,
    });
    return this.getLead(id);
  }

  async updateLead(id: string, patch: LeadPatch): Promise<Lead> {
    await this.updateRecord('leads', 'lead', id, patch, LEAD_PHONES, 'Lead');
    return this.getLead(id);
  }


  async deleteLead(id: string): Promise<void> {
    await this.deleteRecord('leads', 'lead', id, 'Lead');
  }

  // ---------------------------------------------------------------- activities

  /** A record's timeline, newest first. An account's includes its contacts' activities. */
  async listActivities(ref: RecordRef, query: { limit?: number; offset?: number } = {}): Promise<PageOf<Activity>> {
    const { limit, offset } = pageOf(query);
    let q = this.db
      .selectFrom('activities as t')
      .leftJoin('users as u', 'u.id', 't.user_id')
      .selectAll('t')
      .select('u.name as user_name');
    if (ref.type === 'account') {
      q = q.where((eb) =>
        eb.or([
          eb.and([eb('t.record_type', '=', 'account'), eb('t.record_id', '=', ref.id)]),
          eb.and([
            eb('t.record_type', '=', 'contact'),
            eb('t.record_id', 'in', eb.selectFrom('contacts').select('id').where('account_id', '=', ref.id)),
          ]),
        ]),
      );
    } else {
      q = q.where('t.record_type', '=', ref.type).where('t.record_id', '=', ref.id);
    }
    const rows = await q.orderBy('t.occurred_at', 'desc').orderBy('t.id', 'desc').limit(limit + 1).offset(offset).execute();
    return page(rows.map(toActivity), limit, offset);
  }

  async addNote(input: NoteInput, userId: string | null): Promise<Activity> {
    if (!(await this.getRecord({ type: input.record_type, id: input.record_id }))) {
      throw new ValidationError('record_id', `No ${input.record_type} with this id`);
    }
    const id = newId();
    const now = nowIso(this.clock);
    await this.db
      .insertInto('activities')
      .values({
        id,
        kind: 'note',
        record_type: input.record_type,
        record_id: input.record_id,
        user_id: userId,
        subject: input.subject.trim(),
        body: blankToNull(input.body),
        occurred_at: now,
        ends_at: null,
        duration_s: null,
        direction: null,
        disposition: null,
        idempotency_key: null,
        details: null,
        created_at: now,
      })
      .execute();
    return this.getActivity(id);
  }

  async getActivity(id: string): Promise<Activity> {
    const row = await this.db
      .selectFrom('activities as t')
      .leftJoin('users as u', 'u.id', 't.user_id')
      .selectAll('t')
      .select('u.name as user_name')
      .where('t.id', '=', id)
      .executeTakeFirst();
    if (!row) throw new NotFoundError('Activity');
    return toActivity(row);
  }

  // ---------------------------------------------------------------- helpers

  private contactQuery() {
    return this.db
      .selectFrom('contacts as c')
      .leftJoin('accounts as a', 'a.id', 'c.account_id')
      .selectAll('c')
      .select('a.name as account_name');
  }

  private accountQuery() {
    return this.db
      .selectFrom('accounts as a')
      .selectAll('a')
      .select((eb) =>
        eb.selectFrom('contacts').select((e) => e.fn.countAll<number>().as('n')).whereRef('contacts.account_id', '=', 'a.id').as('contact_count'),
      );
  }

  /**
   * Search by text or by number. Text: every word must appear (case-insensitively, literally —
   * `%` and `_` are escaped) in one of the columns. A number in any format: exact E.164, the
   * no-country-code fallback, or a run of digits inside the E.164 (typing "555 0134").
   */
  private searchCondition(
    eb: ExpressionBuilder<any, any>,
    text: string,
    recordType: RecordType,
    idColumn: string,
    columns: string[],
  ): Expression<SqlBool> {
    const digits = text.replace(/\D/g, '');
    const withoutExtension = text.replace(/(ext\.?|x|#)\s*\d+\s*$/i, '');
    const looksLikeNumber = digits.length >= 3 && /^[\d\s()+.\-/]+$/.test(withoutExtension);
    if (looksLikeNumber) {
      const keys = this.phones.queryKeys(text);
      const byNumber: Expression<SqlBool>[] = [sql<SqlBool>`e164 like ${likePattern(digits)} escape '\\'`];
      if (keys.e164) byNumber.push(sql<SqlBool>`e164 = ${keys.e164}`);
      if (keys.tail) byNumber.push(sql<SqlBool>`tail = ${keys.tail}`);
      return eb(
        sql.ref(idColumn),
        'in',
        eb.selectFrom('phone_index').select('record_id').where('record_type', '=', recordType).where(eb.or(byNumber)),
      );
    }
    const words = text.toLowerCase().split(/\s+/).filter(Boolean).slice(0, 8);
    return eb.and(
      words.map((w) =>
        eb.or(columns.map((col) => sql<SqlBool>`lower(${sql.ref(col)}) like ${likePattern(w)} escape '\\'`)),
      ),
    );
  }

  private async indexPhones(
    trx: Trx,
    type: RecordType,
    id: string,
    values: object,
    fields: Record<string, string>,
  ): Promise<void> {
    const phones: Record<string, string | null> = {};
    for (const [field, column] of Object.entries(fields)) {
      const v = (values as Record<string, unknown>)[column];
      phones[field] = typeof v === 'string' ? v : null;
    }
    await this.options.phoneIndex.write(trx, type, id, phones);
  }

  private phoneFields(values: object, fields: Record<string, string>): PhoneField[] {
    const out: PhoneField[] = [];
    for (const [field, column] of Object.entries(fields)) {
      const raw = (values as Record<string, unknown>)[column];
      if (typeof raw !== 'string' || raw.trim() === '') continue;
      const n = this.phones.normalize(raw);
      out.push({ field, raw, e164: n.e164, display: n.display, ext: n.ext });
    }
    return out;
  }

  /** Inserts a record and its phone index rows in one transaction; returns the new id. */
  private async insertRecord(
    table: 'contacts' | 'accounts' | 'leads',
    type: RecordType,
    phoneFields: Record<string, string>,
    values: Record<string, unknown>,
    id = newId(),
  ): Promise<string> {
    const now = nowIso(this.clock);
    await this.db.transaction().execute(async (trx) => {
      if (table === 'contacts') await this.checkAccount(trx, values.account_id as string | null);
      await trx.insertInto(table).values({ ...values, id, created_at: now, updated_at: now } as never).execute();
      await this.indexPhones(trx, type, id, values, phoneFields);
    });
    return id;
  }

  /**
   * Optimistic update: only the version the caller edited is changed. The conflict is raised after
   * the transaction, because reading the current record inside it would wait on itself (SQLite has
   * one connection).
   */
  private async updateRecord(
    table: 'contacts' | 'accounts' | 'leads',
    type: RecordType,
    id: string,
    patch: { version: number } & Record<string, unknown>,
    phoneFields: Record<string, string>,
    what: string,
  ): Promise<void> {
    const { version, ...changes } = patch;
    const outcome = await this.db.transaction().execute(async (trx) => {
      const current = await trx.selectFrom(table).selectAll().where('id', '=', id).executeTakeFirst();
      if (!current) throw new NotFoundError(what);
      if (table === 'contacts' && changes.account_id !== undefined) await this.checkAccount(trx, changes.account_id as string | null);
      const values = cleanPatch(changes);
      const result = await trx
        .updateTable(table)
        .set({ ...values, version: sql`version + 1`, updated_at: nowIso(this.clock) } as never)
        .where('id', '=', id)
        .where('version', '=', version)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) === 0) return 'conflict' as const;
      await this.indexPhones(trx, type, id, { ...current, ...values }, phoneFields);
      return 'updated' as const;
    });
    if (outcome === 'conflict') throw await this.conflict(type, id);
  }

  private async checkAccount(trx: Trx, accountId: string | null | undefined): Promise<void> {
    if (!accountId) return;
    const found = await trx.selectFrom('accounts').select('id').where('id', '=', accountId).executeTakeFirst();
    if (!found) throw new ValidationError('account_id', 'No account with this id');
  }

  private async conflict(type: RecordType, id: string): Promise<ConflictError> {
    const current =
      type === 'contact' ? await this.getContact(id) : type === 'lead' ? await this.getLead(id) : await this.getAccount(id);
    return new ConflictError(`This ${type} was changed by someone else; reload it and apply your change again.`, current);
  }

  private async deleteRecord(table: 'contacts' | 'leads' | 'accounts', type: RecordType, id: string, what: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const result = await trx.deleteFrom(table).where('id', '=', id).executeTakeFirst();
      if (Number(result.numDeletedRows) === 0) throw new NotFoundError(what);
      await this.options.phoneIndex.remove(trx, type, id);
    });
  }

  private toContact(r: ContactRow): Contact {
    return {
      id: r.id,
      version: Number(r.version),
      created_at: r.created_at,
      updated_at: r.updated_at,
      first_name: r.first_name,
      last_name: r.last_name,
      name: `${r.first_name} ${r.last_name}`.trim(),
      title: r.title,
      email: r.email,
      account_id: r.account_id,
      account_name: r.account_name,
      phone_work: r.phone_work,
      phone_mobile: r.phone_mobile,
      phone_home: r.phone_home,
      phone_other: r.phone_other,
      phones: this.phoneFields(r, CONTACT_PHONES),
    };
  }

  private toAccount(r: AccountRow & { contact_count: unknown }): Account {
    return {
      id: r.id,
      version: Number(r.version),
      created_at: r.created_at,
      updated_at: r.updated_at,
      name: r.name,
      website: r.website,
      industry: r.industry,
      phone: r.phone,
      city: r.city,
      country: r.country,
      contact_count: Number(r.contact_count ?? 0),
      phones: this.phoneFields(r, ACCOUNT_PHONES),
    };
  }

  private toLead(r: LeadRow): Lead {
    return {
      id: r.id,
      version: Number(r.version),
      created_at: r.created_at,
      updated_at: r.updated_at,
      first_name: r.first_name,
      last_name: r.last_name,
      name: `${r.first_name} ${r.last_name}`.trim(),
      company: r.company,
      title: r.title,
      email: r.email,
      phone: r.phone,
      mobile: r.mobile,
      status: r.status,
      phones: this.phoneFields(r, LEAD_PHONES),
    };
  }

  private contactSummary(r: ContactRow): CrmRecordSummary {
    const ref = { type: 'contact' as const, id: r.id };
    return { ref, name: `${r.first_name} ${r.last_name}`.trim(), title: r.title, accountName: r.account_name, url: this.recordUrl(ref) };
  }

  private leadSummary(r: LeadRow): CrmRecordSummary {
    const ref = { type: 'lead' as const, id: r.id };
    return { ref, name: `${r.first_name} ${r.last_name}`.trim(), title: r.title, accountName: r.company, url: this.recordUrl(ref) };
  }
}

function pageOf(q: { limit?: number | undefined; offset?: number | undefined }): { limit: number; offset: number } {
  return { limit: Math.min(Math.max(q.limit ?? 50, 1), 200), offset: Math.max(q.offset ?? 0, 0) };
}

function page<T>(rows: T[], limit: number, offset: number): PageOf<T> {
  const hasMore = rows.length > limit;
  return {
    data: hasMore ? rows.slice(0, limit) : rows,
    page: { limit, offset, has_more: hasMore, next_offset: hasMore ? offset + limit : null },
  };
}

function blankToNull(v: string | null | undefined): string | null {
  if (v === undefined || v === null) return null;
  const t = v.trim();
  return t === '' ? null : t;
}

/** Trims strings and turns blanks into null; drops keys that were not given. */
function cleanPatch<T extends Record<string, unknown>>(patch: T): Partial<T> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    out[k] = typeof v === 'string' ? (k === 'first_name' || k === 'last_name' || k === 'name' ? v.trim() : blankToNull(v)) : v;
  }
  return out as Partial<T>;
}

function toActivity(r: ActivityRow & { user_name: string | null }): Activity {
  let details: Record<string, unknown> | null = null;
  if (r.details) {
    try {
      details = JSON.parse(r.details) as Record<string, unknown>;
    } catch {
      details = null;
    }
  }
  return {
    id: r.id,
    kind: r.kind,
    record_type: r.record_type,
    record_id: r.record_id,
    user_id: r.user_id,
    user_name: r.user_name,
    subject: r.subject,
    body: r.body,
    occurred_at: r.occurred_at,
    ends_at: r.ends_at,
    duration_s: r.duration_s === null ? null : Number(r.duration_s),
    direction: r.direction,
    disposition: r.disposition,
    details,
    created_at: r.created_at,
  };
}

const DISPOSITION_WORDS: Record<CallLog['disposition'], string> = {
  answered: '',
  'no-answer': 'Missed',
  busy: 'Busy',
  declined: 'Declined',
  'answered-elsewhere': 'Answered elsewhere',
  cancelled: 'Cancelled',
  failed: 'Failed',
  interrupted: 'Interrupted',
};

/** "Inbound call from Jane Doe (+1 415 555 0134)", "Missed call from …", "Outbound call to …". */
function callSubject(log: CallLog, who: string): string {
  const towards = log.direction === 'inbound' ? `from ${who}` : `to ${who}`;
  const call = log.video ? 'video call' : 'call';
  if (log.disposition === 'answered') return `${log.direction === 'inbound' ? 'Inbound' : 'Outbound'} ${call} ${towards}`;
  if (log.disposition === 'no-answer' && log.direction === 'inbound') return `Missed ${call} ${towards}`;
  return `${DISPOSITION_WORDS[log.disposition]} ${log.direction} ${call} ${towards}`;
}

/** A UUID (version-4 layout) derived from a key: the same key, the same id, on any node. */
function keyedUuid(key: string): string {
  const h = createHash('sha256').update(key).digest();
  h[6] = (h[6]! & 0x0f) | 0x40;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}
