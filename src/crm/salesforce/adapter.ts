/**
 * The Salesforce CRM adapter behind the CRM port.
 *
 * - Caller lookup answers from the local mirror (no API call per ring). While the mirror cannot
 *   answer for the org (initial sync running, polls failing or late), a miss asks SOSL once per
 *   number (misses are remembered for a while), and what SOSL finds joins the mirror.
 * - Add contact creates a Contact and puts it in the mirror at once — so the search-index lag of
 *   new records never makes the next call from that number look unknown (and offer a duplicate);
 *   a duplicate-rule refusal is answered with the existing record.
 * - Call logs are Tasks, delivered in batches through the outbox: one sObject Collections upsert
 *   on the `Ringside_Call_Id__c` external ID per batch (or, for orgs without that field, one query
 *   by `CallObject` plus one create), so a re-delivery never makes a second Task. Invitations are
 *   Events, upserted the same way.
 * - API budget: under `apiReservePct` of the daily allocation left, deliveries are held back to
 *   full batches (or one per `slowIntervalMs`), SOSL fallback stops and polling slows down.
 * - Nothing here throws at start: a bad or unreachable setting is kept as `problem` (logged, and
 *   shown on /readyz) and retried.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import type { PhoneNumbers } from '../../phone/index.ts';
import { AppError, ValidationError } from '../../shared/errors.ts';
import type { SfRecordsTable, Store } from '../../store/index.ts';
import type { AddContactResult, CallLog, CallQuality, CrmMatch, CrmPort, CrmRecordSummary, DeliveryResult, InvitationLog, NewContact, RecordRef } from '../port.ts';
import { callDescription, eventFields, taskFields, type ActivityTarget } from './activities.ts';
import { SalesforceClient, SalesforceError } from './client.ts';
import { SalesforceMirror } from './mirror.ts';
import { isSalesforceId, SOBJECT_OF, soqlString, toMirrorRecord, typeOfId } from './sobjects.ts';
import { MirrorSync, type SyncProgress } from './sync.ts';

export interface SalesforceSettings {
  loginUrl: string;
  clientId: string;
  /** The integration user. */
  username: string;
  privateKeyFile: string;
  apiVersion: string;
  /** Seconds between incremental syncs. */
  syncIntervalS: number;
  /** Under this share of the daily API allocation left, slow down. */
  apiReservePct: number;
  /** How Ringside users are found among Salesforce users: their email is the User's Email or Username. */
  userMatch: 'email' | 'username' | 'none';
  /** Ringside email → Salesforce username, email or User Id (overrides `userMatch`). */
  userMap: Record<string, string>;
  /** The Task/Event external-ID field; null: duplicate check by `CallObject` instead. */
  externalIdField: string | null;
  /** How long the outbox may wait to fill a batch of call logs. */
  batchWindowMs: number;
}

export interface SalesforceCrmOptions {
  store: Store;
  phones: PhoneNumbers;
  settings: SalesforceSettings;
  log: { info(o: object, m?: string): void; warn(o: object, m?: string): void; error(o: object, m?: string): void };
  /** A Ringside user's email (for the Salesforce owner of their activities). */
  userEmail: (userId: string) => Promise<string | undefined>;
  /**
   * Every active Ringside user: when one user's Salesforce owner must be looked up, the others
   * due are looked up in the same query (one query an hour for the whole team, not one per agent).
   */
  userIds?: () => Promise<string[]>;
  clock?: () => number;
  /** Records per sync page (200–2000). */
  pageSize?: number;
  /** After REQUEST_LIMIT_EXCEEDED, no request for this long. */
  limitPauseMs?: number;
  /** A number SOSL did not find is not searched again for this long. */
  missTtlMs?: number;
  /** Under the API reserve, at most one partial batch this often. */
  slowIntervalMs?: number;
  timeoutMs?: number;
}

export interface SalesforceHealth {
  ok: boolean;
  /** What is wrong, in words that name the setting to fix. */
  problem: string | null;
  instanceUrl: string | null;
  sync: SyncProgress;
  api: { used: number | null; max: number | null; low: boolean; limitedUntil: string | null; requests: number };
  taskIdempotency: 'external-id' | 'call-object';
}

const MAX_BATCH = 200;

export class SalesforceCrm implements CrmPort {
  readonly kind = 'salesforce';
  readonly batching: { maxItems: number; windowMs: number };
  readonly mirror: SalesforceMirror;
  client: SalesforceClient | undefined;
  sync: MirrorSync | undefined;
  /** A setting is wrong or the org unreachable (null when all is well). */
  problem: string | null = 'not started';
  private readonly clock: () => number;
  private externalIdField: string | null;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private stopped = false;
  private failures = 0;
  private readonly misses = new Map<string, number>();
  private readonly owners = new Map<string, { sfId: string | null; until: number }>();
  private readonly adding = new Map<string, Promise<AddContactResult>>();
  private lastSlowDelivery = 0;
  private lowLogged = false;

  constructor(private readonly options: SalesforceCrmOptions) {
    this.clock = options.clock ?? Date.now;
    this.externalIdField = options.settings.externalIdField;
    this.batching = { maxItems: MAX_BATCH, windowMs: options.settings.batchWindowMs };
    this.mirror = new SalesforceMirror(options.store.db, options.phones, this.clock);
  }

  private get log() {
    return this.options.log;
  }

  // ---------------------------------------------------------------- life cycle

  /** Reads the key, signs in once and starts syncing in the background. Never throws. */
  async start(): Promise<void> {
    const s = this.options.settings;
    let pem: string;
    try {
      pem = readFileSync(s.privateKeyFile, 'utf8');
    } catch (err) {
      this.setProblem(`SALESFORCE_PRIVATE_KEY_FILE ${s.privateKeyFile} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      return;
    }
    try {
      this.client = new SalesforceClient({
        loginUrl: s.loginUrl,
        clientId: s.clientId,
        username: s.username,
        privateKeyPem: pem,
        apiVersion: s.apiVersion,
        clock: this.clock,
        ...(this.options.limitPauseMs !== undefined ? { limitPauseMs: this.options.limitPauseMs } : {}),
        ...(this.options.timeoutMs !== undefined ? { timeoutMs: this.options.timeoutMs } : {}),
      });
    } catch (err) {
      this.setProblem((err as Error).message);
      return;
    }
    this.sync = new MirrorSync({
      db: this.options.store.db,
      client: this.client,
      mirror: this.mirror,
      log: this.log,
      clock: this.clock,
      ...(this.options.pageSize !== undefined ? { pageSize: this.options.pageSize } : {}),
    });
    // Reported at start when the org answers quickly; a slow one is reported when it does.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.connect(), new Promise((r) => (timer = setTimeout(r, 5000)))]);
    clearTimeout(timer);
    this.schedule(0);
  }

  private async connect(): Promise<boolean> {
    if (!this.client) return false;
    try {
      const session = await this.client.authenticate(true);
      if (this.problem) this.log.info({ instance: session.instanceUrl, user: this.options.settings.username }, `connected to Salesforce at ${session.instanceUrl}`);
      this.problem = null;
      return true;
    } catch (err) {
      this.setProblem((err as Error).message);
      return false;
    }
  }

  private setProblem(problem: string): void {
    if (problem !== this.problem) this.log.error({ problem }, `Salesforce: ${problem}`);
    this.problem = problem;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.syncNow(), ms);
    this.timer.unref();
  }

  /** One round of the background work now: sign in if needed, the initial sync or a poll. */
  async syncNow(): Promise<void> {
    if (this.ticking) return this.ticking;
    this.ticking = (async () => {
      let next = this.options.settings.syncIntervalS * 1000;
      try {
        if (this.problem && !(await this.connect())) throw new Error(this.problem);
        const progress = await this.sync!.progress();
        if (progress.state !== 'ready') await this.sync!.initial();
        else await this.sync!.poll();
        this.sync!.lastError = null;
        this.failures = 0;
        if (this.quotaLow()) next *= 10;
      } catch (err) {
        this.noteFailure(err);
        this.failures++;
        if (this.sync) this.sync.lastError = (err as Error).message;
        // Retry sooner than the interval while something is wrong, backing off to it.
        next = Math.min(next, 5000 * 2 ** Math.min(this.failures - 1, 6));
        this.log.warn({ err: (err as Error).message, retry_in_s: Math.round(next / 1000) }, 'Salesforce mirror sync failed; will retry');
      } finally {
        this.ticking = undefined;
        this.schedule(next);
      }
    })();
    return this.ticking;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.ticking;
  }

  /** For /readyz and an admin page: sign-in, sync progress, API budget. */
  async health(): Promise<SalesforceHealth> {
    const usage = this.client?.usage;
    const limitedUntil = this.client?.limitedUntil ?? 0;
    const sync = this.sync
      ? await this.sync.progress()
      : { state: 'not-started' as const, synced: 0, total: 0, percent: 0, etaSeconds: null, objects: [], startedAt: null, completedAt: null, lastPollAt: null, lastError: null };
    return {
      ok: this.problem === null,
      problem: this.problem,
      instanceUrl: this.client?.instanceUrl ?? null,
      sync,
      api: {
        used: usage?.used ?? null,
        max: usage?.max ?? null,
        low: this.quotaLow(),
        limitedUntil: limitedUntil ? new Date(limitedUntil).toISOString() : null,
        requests: this.client?.apiCalls ?? 0,
      },
      taskIdempotency: this.externalIdField ? 'external-id' : 'call-object',
    };
  }

  /** Under the reserve of the daily allocation (as of the last response). */
  quotaLow(): boolean {
    const u = this.client?.usage;
    const low = !!u && u.max > 0 && u.max - u.used < (u.max * this.options.settings.apiReservePct) / 100;
    if (low && !this.lowLogged) this.log.warn({ used: u!.used, max: u!.max }, 'Salesforce daily API allocation nearly spent: batching harder, polling less, no SOSL fallback');
    this.lowLogged = low;
    return low;
  }

  /** A configuration error seen on a request makes Ringside not ready; a success clears it. */
  private noteFailure(err: unknown): void {
    if (err instanceof SalesforceError && err.kind === 'config') this.setProblem(err.message);
  }

  private api(): SalesforceClient {
    if (!this.client) throw new SalesforceError('config', this.problem ?? 'Salesforce is not configured');
    return this.client;
  }

  // ---------------------------------------------------------------- records

  recordUrl(ref: RecordRef): string {
    const base = this.client?.instanceUrl ?? this.options.settings.loginUrl;
    return `${base}/lightning/r/${SOBJECT_OF[ref.type].sobject}/${encodeURIComponent(ref.id)}/view`;
  }

  private async summaries(rows: SfRecordsTable[]): Promise<CrmRecordSummary[]> {
    const accounts = await this.mirror.getMany(rows.map((r) => r.account_id).filter((x): x is string => !!x));
    return rows.map((r) => {
      const ref = { type: r.record_type, id: r.id };
      const accountName = r.record_type === 'contact' ? (r.account_id ? (accounts.get(r.account_id)?.name ?? null) : null) : r.record_type === 'lead' ? r.company : null;
      return { ref, name: r.name, title: r.title, accountName, url: this.recordUrl(ref) };
    });
  }

  async findByPhone(number: string): Promise<CrmMatch[]> {
    let found = await this.mirror.lookup(number);
    if (found.length === 0 && (await this.searchByPhone(number))) found = await this.mirror.lookup(number);
    const summaries = await this.summaries(found.map((f) => f.record));
    return summaries.map((s, i) => ({ ...s, field: found[i]!.field, match: found[i]!.match }));
  }

  /** SOSL for a number the mirror does not have (contract §3.1–3.2); what it finds joins the mirror. */
  private async searchByPhone(number: string): Promise<boolean> {
    const keys = this.options.phones.queryKeys(number);
    const terms = new Set<string>();
    if (keys.e164) {
      const parsed = parsePhoneNumberFromString(keys.e164);
      if (parsed) terms.add(String(parsed.nationalNumber));
      terms.add(keys.e164.slice(1));
    } else {
      const digits = number.replace(/\D/g, '');
      if (digits.length >= 7) terms.add(digits);
    }
    const missKey = [...terms].join('|');
    if (terms.size === 0 || !this.client || this.problem || this.quotaLow() || this.client.limitedUntil) return false;
    if (await this.mirrorIsCurrent()) return false;
    if ((this.misses.get(missKey) ?? 0) > this.clock()) return false;
    const returning = Object.values(SOBJECT_OF)
      .map((o) => `${o.sobject}(${o.fields.join(', ')}${o.live ? ` WHERE ${o.live}` : ''} LIMIT 20)`)
      .join(', ');
    // Digits only: nothing to escape (contract §3.2 reserved characters).
    const sosl = `FIND {${[...terms].join(' OR ')}} IN PHONE FIELDS RETURNING ${returning}`;
    try {
      const res = await this.client.request<{ searchRecords?: unknown[] }>('GET', `/search/?q=${encodeURIComponent(sosl)}`);
      const records = (Array.isArray(res.body?.searchRecords) ? res.body.searchRecords : []).map(toMirrorRecord).filter((r) => r !== null);
      if (records.length > 0) await this.options.store.db.transaction().execute((trx) => this.mirror.write(trx, records));
      if (records.length === 0) this.misses.set(missKey, this.clock() + (this.options.missTtlMs ?? 10 * 60_000));
      if (this.misses.size > 10_000) this.misses.clear();
      return records.length > 0;
    } catch (err) {
      this.noteFailure(err);
      this.log.warn({ err: (err as Error).message }, 'Salesforce SOSL phone search failed');
      return false;
    }
  }

  /**
   * The mirror is complete and its last poll recent: a number it lacks is one SOSL cannot find
   * either. SOSL only sees what the search index has, and the index lags minutes behind every new
   * or changed phone number (contract §3.3) — longer than the poll that brought the same change
   * into the mirror. So a SOSL search could only add records the mirror missed because polling
   * stopped; it is the fallback while the initial sync runs or the polls fail or fall behind.
   */
  private async mirrorIsCurrent(): Promise<boolean> {
    if (!this.sync || this.sync.lastError) return false;
    const progress = await this.sync.progress();
    if (progress.state !== 'ready' || !progress.lastPollAt && !progress.completedAt) return false;
    const last = Date.parse(progress.lastPollAt ?? progress.completedAt!);
    return this.clock() - last <= 3 * this.options.settings.syncIntervalS * 1000;
  }

  async findByEmail(email: string): Promise<CrmRecordSummary[]> {
    return this.summaries(await this.mirror.byEmail(email));
  }

  async getRecord(ref: RecordRef): Promise<CrmRecordSummary | null> {
    if (!isSalesforceId(ref.id) || typeOfId(ref.id) !== ref.type) return null;
    let row = await this.mirror.get(ref.id);
    if (!row) {
      const object = SOBJECT_OF[ref.type];
      try {
        const res = await this.api().request('GET', `/sobjects/${object.sobject}/${ref.id}?fields=${object.fields.join(',')}`);
        const record = toMirrorRecord(res.body);
        if (!record || (ref.type === 'lead' && (res.body as { IsConverted?: unknown }).IsConverted === true)) return null;
        await this.options.store.db.transaction().execute((trx) => this.mirror.write(trx, [record]));
        row = await this.mirror.get(ref.id);
      } catch (err) {
        if (err instanceof SalesforceError && err.kind === 'api') return null;
        throw err;
      }
    }
    return row ? ((await this.summaries([row]))[0] ?? null) : null;
  }

  async createContact(contact: NewContact): Promise<CrmRecordSummary> {
    return (await this.insertContact(contact, null)).record;
  }

  async addContact(contact: NewContact, options: { key: string; userId: string | null }): Promise<AddContactResult> {
    // One at a time per key: a double click waits for the first and gets its contact.
    const pending = this.adding.get(options.key);
    if (pending) return pending.then((r) => ({ ...r, created: false }));
    const run = (async (): Promise<AddContactResult> => {
      const made = await this.options.store.db.selectFrom('sf_created_contacts').select('sf_id').where('key', '=', options.key).executeTakeFirst();
      if (made) {
        const record = await this.getRecord({ type: typeOfId(made.sf_id) ?? 'contact', id: made.sf_id });
        if (record) return { record, created: false, duplicate: false };
      }
      const owner = options.userId ? (await this.ownersFor([options.userId])).get(options.userId) ?? null : null;
      const result = await this.insertContact(contact, owner);
      await this.options.store.db
        .insertInto('sf_created_contacts')
        .values({ key: options.key, sf_id: result.record.ref.id, created_at: new Date(this.clock()).toISOString() })
        .onConflict((oc) => oc.column('key').doNothing())
        .execute();
      return result;
    })();
    this.adding.set(options.key, run);
    try {
      return await run;
    } finally {
      this.adding.delete(options.key);
    }
  }

  /** POST a Contact (contract §4); on DUPLICATES_DETECTED, the record the rule matched. */
  private async insertContact(contact: NewContact, ownerId: string | null): Promise<AddContactResult> {
    const phone = contact.phone ? (this.options.phones.normalize(contact.phone).e164 ?? contact.phone) : null;
    const body: Record<string, unknown> = {
      ...(contact.firstName.trim() ? { FirstName: contact.firstName.trim() } : {}),
      LastName: contact.lastName.trim() || 'Unknown caller',
      ...(phone ? { Phone: phone } : {}),
      ...(contact.email ? { Email: contact.email } : {}),
      ...(contact.title ? { Title: contact.title } : {}),
      ...(contact.accountId && typeOfId(contact.accountId) === 'account' ? { AccountId: contact.accountId } : {}),
      ...(ownerId ? { OwnerId: ownerId } : {}),
      Description: 'Created by Ringside (Add contact during a call)',
    };
    let id: string;
    try {
      const res = await this.api().request<{ id?: unknown }>('POST', '/sobjects/Contact/', { body });
      if (typeof res.body?.id !== 'string' || !isSalesforceId(res.body.id)) throw new SalesforceError('unavailable', 'Salesforce created the contact without returning its id');
      id = res.body.id;
    } catch (err) {
      const existing = err instanceof SalesforceError && err.errorCode === 'DUPLICATES_DETECTED' ? duplicateOf(err.body) : null;
      if (existing) {
        const record = await this.getRecord({ type: typeOfId(existing)!, id: existing });
        if (record) {
          this.log.info({ existing }, 'Salesforce duplicate rule matched an existing record: offered instead of a new contact');
          return { record, created: false, duplicate: true };
        }
      }
      throw userError(err);
    }
    // Into the mirror now: the search index will not have it for minutes (contract §3.3).
    const record = { id, type: 'contact' as const, name: [body.FirstName, body.LastName].filter(Boolean).join(' '), title: contact.title ?? null, email: contact.email ?? null, accountId: (body.AccountId as string | undefined) ?? null, company: null, modstamp: null, phones: { Phone: phone } };
    await this.options.store.db.transaction().execute((trx) => this.mirror.write(trx, [record]));
    const summary = (await this.summaries([(await this.mirror.get(id))!]))[0]!;
    return { record: summary, created: true, duplicate: false };
  }

  async lastActivity(ref: RecordRef): Promise<{ subject: string; at: string } | null> {
    const row = await this.options.store.db
      .selectFrom('sf_activities')
      .select(['subject', 'occurred_at'])
      .where('record_id', '=', ref.id)
      .orderBy('occurred_at', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row ? { subject: row.subject, at: row.occurred_at } : null;
  }

  // ---------------------------------------------------------------- users

  /** Ringside user → Salesforce User Id (null: the integration user owns it). One query per batch of unknown users. */
  private async ownersFor(userIds: string[]): Promise<Map<string, string | null>> {
    const out = new Map<string, string | null>();
    const s = this.options.settings;
    const now = this.clock();
    const wanted = new Map<string, string[]>(); // name to look up → Ringside users
    const requested = new Set(userIds);
    let ids = requested;
    if (this.options.userIds && [...requested].some((id) => !((this.owners.get(id)?.until ?? 0) > now))) {
      // One of them is due: so is everyone else whose owner is unknown or old — ask about all at once.
      const all = await this.options.userIds().catch(() => [] as string[]);
      ids = new Set([...requested, ...all.filter((id) => !((this.owners.get(id)?.until ?? 0) > now))]);
    }
    for (const id of ids) {
      const cached = this.owners.get(id);
      if (s.userMatch === 'none' && Object.keys(s.userMap).length === 0) {
        out.set(id, null);
        continue;
      }
      if (cached && cached.until > now) {
        out.set(id, cached.sfId);
        continue;
      }
      const email = (await this.options.userEmail(id))?.toLowerCase();
      const target = email ? (s.userMap[email] ?? (s.userMatch === 'none' ? undefined : email)) : undefined;
      if (!target) {
        out.set(id, null);
        continue;
      }
      if (/^005[a-zA-Z0-9]{12}([a-zA-Z0-9]{3})?$/.test(target)) {
        out.set(id, target);
        this.owners.set(id, { sfId: target, until: now + 3_600_000 });
        continue;
      }
      wanted.set(target.toLowerCase(), [...(wanted.get(target.toLowerCase()) ?? []), id]);
    }
    if (wanted.size === 0) return new Map([...out].filter(([id]) => requested.has(id)));
    let users: { Id?: unknown; Username?: unknown; Email?: unknown }[] = [];
    try {
      const all = [...wanted.keys()];
      for (let i = 0; i < all.length; i += 200) {
        const names = all.slice(i, i + 200).map(soqlString).join(', ');
        const where = s.userMatch === 'username' ? `Username IN (${names})` : s.userMatch === 'email' ? `Email IN (${names}) OR Username IN (${names})` : `Username IN (${names}) OR Email IN (${names})`;
        const res = await this.api().request<{ records?: typeof users }>('GET', `/query/?q=${encodeURIComponent(`SELECT Id, Username, Email FROM User WHERE IsActive = true AND (${where})`)}`);
        users.push(...(Array.isArray(res.body?.records) ? res.body.records : []));
      }
    } catch (err) {
      if (!(err instanceof SalesforceError) || err.kind !== 'api') throw err;
      // The integration user may not read Users: its own activities then, said once per hour.
      this.log.warn({ err: err.message }, 'Salesforce users cannot be read: activities are owned by the integration user');
    }
    for (const [name, ids] of wanted) {
      const byUsername = users.find((u) => String(u.Username ?? '').toLowerCase() === name);
      const byEmail = users.find((u) => String(u.Email ?? '').toLowerCase() === name);
      const match = s.userMatch === 'username' ? byUsername : (byEmail ?? byUsername);
      const sfId = typeof match?.Id === 'string' ? match.Id : null;
      for (const id of ids) {
        out.set(id, sfId);
        this.owners.set(id, { sfId, until: now + (sfId ? 3_600_000 : 600_000) });
      }
    }
    return new Map([...out].filter(([id]) => requested.has(id)));
  }

  // ---------------------------------------------------------------- activities

  private async targetOf(record: RecordRef | null): Promise<ActivityTarget> {
    if (!record || !isSalesforceId(record.id) || typeOfId(record.id) !== record.type) return { whoId: null, whatId: null, name: null };
    // A record the mirror has not seen yet (named by click-to-dial): read once, which mirrors it.
    const row = (await this.mirror.get(record.id)) ?? ((await this.getRecord(record)) ? await this.mirror.get(record.id) : undefined);
    if (record.type === 'account') return { whoId: null, whatId: record.id, name: row?.name ?? null };
    // A lead's task may not name an account (FIELD_INTEGRITY_EXCEPTION).
    return { whoId: record.id, whatId: record.type === 'contact' ? (row?.account_id ?? null) : null, name: row?.name ?? null };
  }

  async logCall(log: CallLog): Promise<{ ref: string }> {
    const [result] = await this.logCalls([log]);
    if (!result?.ok) throw new Error(result?.error ?? 'not delivered');
    return { ref: result.ref };
  }

  async logCalls(logs: CallLog[]): Promise<DeliveryResult[]> {
    if (logs.length > MAX_BATCH) {
      const out: DeliveryResult[] = [];
      for (let i = 0; i < logs.length; i += MAX_BATCH) out.push(...(await this.logCalls(logs.slice(i, i + MAX_BATCH))));
      return out;
    }
    if (this.problem || !this.client) throw new Error(`Salesforce is not available: ${this.problem ?? 'not configured'}`);
    if (this.quotaLow() && logs.length < MAX_BATCH) {
      const slow = this.options.slowIntervalMs ?? 60_000;
      const wait = this.lastSlowDelivery + slow - this.clock();
      if (wait > 0) return logs.map(() => ({ ok: false, error: 'Salesforce API allocation low: waiting to send a fuller batch', retryAfterMs: wait, deferred: true }));
      this.lastSlowDelivery = this.clock();
    }
    const display = (n: string) => this.options.phones.display(n);
    const owners = await this.ownersFor(logs.map((l) => l.userId));
    const items = await Promise.all(
      logs.map(async (log) => {
        const target = await this.targetOf(log.record);
        return { log, target, fields: taskFields(log, target, owners.get(log.userId) ?? null, display) };
      }),
    );
    try {
      let results = await this.deliverTasks(items.map((i) => ({ key: i.log.key, fields: i.fields })));
      // A record deleted in Salesforce since (or an owner deactivated): log it unlinked rather than never.
      const broken = results.map((r, i) => (!r.ok && /INVALID_CROSS_REFERENCE_KEY|FIELD_INTEGRITY_EXCEPTION|INACTIVE_OWNER_OR_USER/.test(r.error) ? i : -1)).filter((i) => i >= 0);
      if (broken.length > 0) {
        const retried = await this.deliverTasks(
          broken.map((i) => {
            const { WhoId: _who, WhatId: _what, OwnerId: _owner, ...fields } = items[i]!.fields;
            return { key: items[i]!.log.key, fields };
          }),
        );
        results = results.map((r, i) => (broken.includes(i) ? retried[broken.indexOf(i)]! : r));
      }
      const delivered = new Date(this.clock()).toISOString();
      const rows = results
        .map((r, i) => (r.ok ? { r, item: items[i]! } : null))
        .filter((x) => x !== null)
        .map(({ r, item }) => ({
          key: item.log.key,
          sobject: 'Task' as const,
          sf_id: (r as { ref: string }).ref,
          record_id: item.target.whoId ?? item.target.whatId,
          subject: String(item.fields.Subject),
          occurred_at: item.log.startedAt,
          sequence: null,
          payload: JSON.stringify(item.log),
          delivered_at: delivered,
        }));
      for (let i = 0; i < rows.length; i += 200) {
        await this.options.store.db
          .insertInto('sf_activities')
          .values(rows.slice(i, i + 200))
          .onConflict((oc) => oc.column('key').doUpdateSet((eb) => ({ sf_id: eb.ref('excluded.sf_id'), record_id: eb.ref('excluded.record_id'), subject: eb.ref('excluded.subject'), payload: eb.ref('excluded.payload'), delivered_at: eb.ref('excluded.delivered_at') })))
          .execute();
      }
      return results;
    } catch (err) {
      this.noteFailure(err);
      throw err;
    }
  }

  /** One batch of Tasks, idempotent by key: an upsert on the external ID, or a check by CallObject. */
  private async deliverTasks(items: { key: string; fields: Record<string, unknown> }[]): Promise<DeliveryResult[]> {
    const client = this.api();
    const field = this.externalIdField;
    if (field) {
      try {
        const res = await client.request<unknown>('PATCH', `/composite/sobjects/Task/${field}`, {
          body: { allOrNone: false, records: items.map((i) => ({ attributes: { type: 'Task' }, [field]: externalIdValue(i.key), ...i.fields })) },
        });
        return collectionResults(res.body, items.length);
      } catch (err) {
        if (!(err instanceof SalesforceError) || err.kind !== 'api' || !(err.errorCode === 'NOT_FOUND' || err.errorCode === 'INVALID_FIELD')) throw err;
        this.log.warn({ field, err: err.message }, `the Task field ${field} is missing or not an external ID: Ringside checks by CallObject instead (docs/salesforce.md, step 4)`);
        this.externalIdField = null;
      }
    }
    // No external ID: what is there already (a delivery whose answer was lost), then create the rest.
    const existing = new Map<string, string>();
    for (let i = 0; i < items.length; i += 100) {
      const keys = items.slice(i, i + 100).map((x) => soqlString(String(x.fields.CallObject))).join(', ');
      const res = await client.request<{ records?: { Id?: unknown; CallObject?: unknown }[] }>('GET', `/query/?q=${encodeURIComponent(`SELECT Id, CallObject FROM Task WHERE CallObject IN (${keys})`)}`);
      for (const r of res.body?.records ?? []) if (typeof r.Id === 'string' && typeof r.CallObject === 'string') existing.set(r.CallObject, r.Id);
    }
    const toCreate = items.filter((i) => !existing.has(String(i.fields.CallObject)));
    let created: DeliveryResult[] = [];
    if (toCreate.length > 0) {
      const res = await client.request<unknown>('POST', '/composite/sobjects', { body: { allOrNone: false, records: toCreate.map((i) => ({ attributes: { type: 'Task' }, ...i.fields })) } });
      created = collectionResults(res.body, toCreate.length);
    }
    return items.map((i) => {
      const id = existing.get(String(i.fields.CallObject));
      return id ? { ok: true, ref: id } : created[toCreate.indexOf(i)]!;
    });
  }

  async updateCallNotes(key: string, notes: string | null): Promise<void> {
    await this.updateLoggedCall(key, (log) => (log.notes = notes));
  }

  async updateCallQuality(key: string, quality: CallQuality): Promise<void> {
    await this.updateLoggedCall(key, (log) => (log.quality = quality));
  }

  /** Changes a delivered call's log and rewrites its Task's description from it. */
  private async updateLoggedCall(key: string, change: (log: CallLog) => void): Promise<void> {
    const row = await this.options.store.db.selectFrom('sf_activities').selectAll().where('key', '=', key).executeTakeFirst();
    // Not delivered yet (pending or retrying): fail, so the outbox tries again later.
    if (!row) throw new Error('the call is not logged in Salesforce yet');
    const log = JSON.parse(row.payload) as CallLog;
    change(log);
    await this.api().request('PATCH', `/sobjects/Task/${row.sf_id}`, { body: { Description: callDescription(log, (n) => this.options.phones.display(n)) } });
    await this.options.store.db.updateTable('sf_activities').set({ payload: JSON.stringify(log) }).where('key', '=', key).execute();
  }


  /** An invitation as an Event, updated in place by key; an older sequence arriving late changes nothing. */
  async logInvitation(inv: InvitationLog): Promise<{ ref: string }> {
    const db = this.options.store.db;
    const row = await db.selectFrom('sf_activities').selectAll().where('key', '=', inv.key).executeTakeFirst();
    if (row && row.sequence !== null && Number(row.sequence) >= inv.sequence) return { ref: row.sf_id };
    const target = await this.targetOf(inv.record);
    const owner = (await this.ownersFor([inv.userId])).get(inv.userId) ?? null;
    const fields = eventFields(inv, target, owner);
    const client = this.api();
    let id: string;
    if (this.externalIdField) {
      const res = await client.request<{ id?: unknown }>('PATCH', `/sobjects/Event/${this.externalIdField}/${encodeURIComponent(externalIdValue(inv.key))}`, { body: fields });
      if (typeof res.body?.id !== 'string') throw new Error('Salesforce upserted the event without returning its id');
      id = res.body.id;
    } else if (row) {
      await client.request('PATCH', `/sobjects/Event/${row.sf_id}`, { body: fields });
      id = row.sf_id;
    } else {
      const res = await client.request<{ id?: unknown }>('POST', '/sobjects/Event/', { body: fields });
      if (typeof res.body?.id !== 'string') throw new Error('Salesforce created the event without returning its id');
      id = res.body.id;
    }
    const values = {
      key: inv.key,
      sobject: 'Event' as const,
      sf_id: id,
      record_id: target.whoId ?? target.whatId,
      subject: String(fields.Subject),
      occurred_at: inv.startsAt,
      sequence: inv.sequence,
      payload: JSON.stringify(inv),
      delivered_at: new Date(this.clock()).toISOString(),
    };
    await db
      .insertInto('sf_activities')
      .values(values)
      .onConflict((oc) => oc.column('key').doUpdateSet({ sf_id: id, subject: values.subject, sequence: inv.sequence, payload: values.payload, delivered_at: values.delivered_at }))
      .execute();
    return { ref: id };
  }
}

/**
 * The external-ID value of an activity key. The setup guide's field is Text(64) (contract §5.2);
 * a call's key (`call:<call uuid>:<user uuid>`, 78 characters) does not fit, so a longer key is
 * replaced by a digest of it — the same key always gives the same value. `CallObject` keeps the
 * key itself.
 */
export function externalIdValue(key: string): string {
  return key.length <= 64 ? key : `rs-${createHash('sha256').update(key).digest('base64url')}`;
}

/** sObject Collections results (contract §6.2): one per record, in order; anything else is a failed batch. */
function collectionResults(body: unknown, count: number): DeliveryResult[] {
  if (!Array.isArray(body) || body.length !== count) throw new SalesforceError('unavailable', `Salesforce answered a batch of ${count} with ${Array.isArray(body) ? body.length : 'no'} results`);
  return body.map((r: { id?: unknown; success?: unknown; errors?: { statusCode?: unknown; message?: unknown }[] }) => {
    if (r?.success === true && typeof r.id === 'string') return { ok: true, ref: r.id };
    const e = Array.isArray(r?.errors) ? r.errors[0] : undefined;
    return { ok: false, error: `${String(e?.statusCode ?? 'UNKNOWN')}: ${String(e?.message ?? 'refused')}` };
  });
}

/** The record a `DUPLICATES_DETECTED` refusal matched (either spelling of the key, contract §4). */
function duplicateOf(body: unknown): string | null {
  const first = Array.isArray(body) ? (body[0] as Record<string, unknown> | undefined) : undefined;
  const result = (first?.duplicateResut ?? first?.duplicateResult) as { matchResults?: { matchRecords?: { record?: { Id?: unknown } }[] }[] } | undefined;
  for (const m of result?.matchResults ?? []) {
    for (const r of m.matchRecords ?? []) {
      const id = r.record?.Id;
      if (typeof id === 'string' && typeOfId(id)) return id;
    }
  }
  return null;
}

const FIELD_NAMES: Record<string, string> = { LastName: 'last_name', FirstName: 'first_name', Email: 'email', Phone: 'number', AccountId: 'account_id', Title: 'title' };

/** A refusal the user can act on (a field), or "Salesforce is unavailable". */
function userError(err: unknown): Error {
  if (err instanceof SalesforceError && err.kind === 'api') {
    const first = Array.isArray(err.body) ? (err.body[0] as { fields?: unknown } | undefined) : undefined;
    const field = Array.isArray(first?.fields) ? String(first.fields[0]) : null;
    return new ValidationError(field ? (FIELD_NAMES[field] ?? field) : 'contact', `Salesforce refused the contact: ${err.message}`);
  }
  if (err instanceof SalesforceError) return new AppError(503, 'crm_unavailable', `Salesforce is not available: ${err.message}`);
  return err instanceof Error ? err : new Error(String(err));
}
