/**
 * Keeps the mirror in step with the org.
 *
 * - Initial sync, per object: the count (for progress) and the highest SystemModstamp first, then
 *   every record in Id order, page by page (`nextRecordsUrl`); each page is written together with
 *   the last Id in one transaction, so a restart resumes after the last page written.
 * - Incremental sync, every interval: what changed since the high-water SystemModstamp — of all
 *   three objects in ONE Composite request of `queryAll` subrequests (deleted records and
 *   converted leads leave the mirror). A change made while the initial sync ran is caught here,
 *   as the high-water mark was taken before it started.
 * - Progress (records synced of total, time left) in the log and from `progress()`.
 */
import type { Kysely } from 'kysely';
import type { Database, SfSyncStateTable } from '../../store/index.ts';
import type { SalesforceClient } from './client.ts';
import type { SalesforceMirror } from './mirror.ts';
import { isGone, isoTime, MIRRORED, toMirrorRecord, type MirroredObject } from './sobjects.ts';

export interface SyncLog {
  info(o: object, m?: string): void;
  warn(o: object, m?: string): void;
}

export interface ObjectProgress {
  sobject: string;
  phase: 'initial' | 'incremental';
  synced: number;
  total: number;
}

export interface SyncProgress {
  /** `initial`: the first sync is running (lookups fall back to SOSL meanwhile); `ready`: mirrored. */
  state: 'not-started' | 'initial' | 'ready';
  synced: number;
  total: number;
  percent: number;
  /** Estimated seconds left of the initial sync (null when unknown or done). */
  etaSeconds: number | null;
  objects: ObjectProgress[];
  startedAt: string | null;
  completedAt: string | null;
  lastPollAt: string | null;
  lastError: string | null;
}

export interface MirrorSyncOptions {
  db: Kysely<Database>;
  client: SalesforceClient;
  mirror: SalesforceMirror;
  log: SyncLog;
  clock: () => number;
  /** Records per page (`Sforce-Query-Options: batchSize`, 200–2000). */
  pageSize?: number;
}

type QueryPage = { totalSize?: number; done?: boolean; nextRecordsUrl?: string; records?: unknown[] };

export class MirrorSync {
  private readonly clock: () => number;
  private runStartedAt = 0;
  private runSyncedAtStart = 0;
  lastError: string | null = null;

  constructor(private readonly options: MirrorSyncOptions) {
    this.clock = options.clock;
  }

  private get db() {
    return this.options.db;
  }

  private nowIso(): string {
    return new Date(this.clock()).toISOString();
  }

  private get queryHeaders(): Record<string, string> {
    return { 'Sforce-Query-Options': `batchSize=${Math.min(2000, Math.max(200, this.options.pageSize ?? 2000))}` };
  }

  /** The initial sync of every object not synced yet (resuming where a previous run stopped). */
  async initial(): Promise<void> {
    const instance = this.options.client.instanceUrl ?? null;
    const states = await this.states();
    // State of another org (the settings changed): start over.
    if ([...states.values()].some((s) => s.instance !== instance)) {
      await this.db.deleteFrom('sf_sync_state').execute();
      await this.db.deleteFrom('sf_phones').execute();
      await this.db.deleteFrom('sf_records').execute();
      states.clear();
    }
    this.runStartedAt = this.clock();
    this.runSyncedAtStart = [...states.values()].reduce((n, s) => n + Number(s.synced), 0);
    for (const object of MIRRORED) {
      let state = states.get(object.sobject);
      if (state?.phase === 'incremental') continue;
      if (!state) state = await this.begin(object, instance);
      await this.pages(object, state);
    }
  }

  /** Count and high-water mark in one Composite call, then the state row. */
  private async begin(object: MirroredObject, instance: string | null): Promise<SfSyncStateTable> {
    const where = object.live ? ` WHERE ${object.live}` : '';
    const prefix = this.options.client.apiPrefix;
    const q = (soql: string) => `${prefix}/query/?q=${encodeURIComponent(soql)}`;
    const res = await this.options.client.request<{ compositeResponse?: { httpStatusCode?: number; body?: unknown }[] }>('POST', '/composite', {
      body: {
        allOrNone: false,
        compositeRequest: [
          { method: 'GET', url: q(`SELECT COUNT() FROM ${object.sobject}${where}`), referenceId: 'count' },
          { method: 'GET', url: q(`SELECT Id, SystemModstamp FROM ${object.sobject} ORDER BY SystemModstamp DESC LIMIT 1`), referenceId: 'newest' },
        ],
      },
    });
    const [count, newest] = res.body?.compositeResponse ?? [];
    if (count?.httpStatusCode !== 200 || newest?.httpStatusCode !== 200) throw new Error(`Salesforce refused the ${object.sobject} count: ${JSON.stringify(res.body).slice(0, 300)}`);
    const total = Number((count.body as QueryPage | undefined)?.totalSize ?? 0);
    const highWater = isoTime(((newest.body as QueryPage | undefined)?.records?.[0] as { SystemModstamp?: unknown } | undefined)?.SystemModstamp);
    const state: SfSyncStateTable = {
      sobject: object.sobject,
      phase: 'initial',
      total: Number.isFinite(total) ? total : 0,
      synced: 0,
      cursor_id: null,
      high_water: highWater,
      started_at: this.nowIso(),
      completed_at: null,
      polled_at: null,
      instance,
    };
    await this.db.insertInto('sf_sync_state').values(state).onConflict((oc) => oc.column('sobject').doNothing()).execute();
    this.options.log.info({ sobject: object.sobject, total: state.total }, `Salesforce mirror: initial sync of ${state.total} ${object.sobject} records`);
    return state;
  }

  private async pages(object: MirroredObject, state: SfSyncStateTable): Promise<void> {
    const conditions = [object.live, state.cursor_id ? `Id > '${state.cursor_id.replace(/[^a-zA-Z0-9]/g, '')}'` : null].filter(Boolean);
    const soql = `SELECT ${object.fields.join(', ')} FROM ${object.sobject}${conditions.length ? ` WHERE ${conditions.join(' AND ')}` : ''} ORDER BY Id`;
    let path: string | undefined = `/query/?q=${encodeURIComponent(soql)}`;
    let synced = Number(state.synced);
    while (path) {
      const res: { body: QueryPage | null } = await this.options.client.request<QueryPage>('GET', path, { headers: this.queryHeaders });
      const page: QueryPage = res.body ?? {};
      const raw = Array.isArray(page.records) ? page.records : [];
      const records = raw.map(toMirrorRecord).filter((r) => r !== null);
      const lastId = raw.length ? String((raw.at(-1) as { Id?: unknown }).Id ?? '') : null;
      synced += raw.length;
      await this.db.transaction().execute(async (trx) => {
        await this.options.mirror.write(trx, records);
        await trx
          .updateTable('sf_sync_state')
          .set({ synced, ...(lastId ? { cursor_id: lastId } : {}) })
          .where('sobject', '=', object.sobject)
          .execute();
      });
      if (raw.length) await this.logProgress();
      path = page.done === false && typeof page.nextRecordsUrl === 'string' && page.nextRecordsUrl.startsWith('/services/') ? page.nextRecordsUrl : undefined;
    }
    await this.db
      .updateTable('sf_sync_state')
      .set({ phase: 'incremental', completed_at: this.nowIso(), total: synced })
      .where('sobject', '=', object.sobject)
      .execute();
    this.options.log.info({ sobject: object.sobject, records: synced }, `Salesforce mirror: ${object.sobject} synced`);
  }

  private async logProgress(): Promise<void> {
    const p = await this.progress();
    this.options.log.info(
      { synced: p.synced, total: p.total, eta_s: p.etaSeconds },
      `Salesforce mirror: initial sync ${p.synced} of ${p.total} records${p.etaSeconds !== null ? `, about ${p.etaSeconds} s left` : ''}`,
    );
  }

  /**
   * What changed since the last poll, for every object past its initial sync: one Composite call
   * (plus one per further page when more than a page changed). Returns how many records changed.
   */
  async poll(): Promise<number> {
    const states = [...(await this.states()).values()].filter((s) => s.phase === 'incremental');
    if (states.length === 0) return 0;
    const prefix = this.options.client.apiPrefix;
    const requests = states.map((s) => {
      const object = MIRRORED.find((o) => o.sobject === s.sobject)!;
      const fields = [...new Set([...object.fields, 'IsDeleted'])];
      const where = s.high_water ? ` WHERE SystemModstamp >= ${s.high_water}` : '';
      const soql = `SELECT ${fields.join(', ')} FROM ${object.sobject}${where} ORDER BY SystemModstamp, Id`;
      return { method: 'GET', url: `${prefix}/queryAll/?q=${encodeURIComponent(soql)}`, referenceId: object.sobject, httpHeaders: this.queryHeaders };
    });
    const res = await this.options.client.request<{ compositeResponse?: { referenceId?: string; httpStatusCode?: number; body?: unknown }[] }>('POST', '/composite', {
      body: { allOrNone: false, compositeRequest: requests },
    });
    let changed = 0;
    for (const sub of res.body?.compositeResponse ?? []) {
      const state = states.find((s) => s.sobject === sub.referenceId);
      if (!state) continue;
      if (sub.httpStatusCode !== 200) {
        this.options.log.warn({ sobject: state.sobject, status: sub.httpStatusCode, body: sub.body }, 'Salesforce mirror: incremental query refused');
        continue;
      }
      let page = (sub.body ?? {}) as QueryPage;
      let highWater = state.high_water;
      for (;;) {
        const raw = Array.isArray(page.records) ? page.records : [];
        const gone = raw.filter(isGone).map((r) => String((r as { Id?: unknown }).Id ?? '')).filter(Boolean);
        const records = raw.filter((r) => !isGone(r)).map(toMirrorRecord).filter((r) => r !== null);
        for (const r of raw) {
          const t = isoTime((r as { SystemModstamp?: unknown }).SystemModstamp);
          if (t && (!highWater || t > highWater)) highWater = t;
        }
        await this.db.transaction().execute(async (trx) => {
          await this.options.mirror.remove(trx, gone);
          await this.options.mirror.write(trx, records);
          await trx.updateTable('sf_sync_state').set({ high_water: highWater, polled_at: this.nowIso() }).where('sobject', '=', state.sobject).execute();
        });
        changed += raw.length;
        if (page.done !== false || typeof page.nextRecordsUrl !== 'string' || !page.nextRecordsUrl.startsWith('/services/')) break;
        page = (await this.options.client.request<QueryPage>('GET', page.nextRecordsUrl, { headers: this.queryHeaders })).body ?? {};
      }
    }
    return changed;
  }

  private async states(): Promise<Map<string, SfSyncStateTable>> {
    const rows = await this.db.selectFrom('sf_sync_state').selectAll().execute();
    return new Map(rows.map((r) => [r.sobject, r]));
  }

  async progress(): Promise<SyncProgress> {
    const states = await this.states();
    const objects: ObjectProgress[] = MIRRORED.map((o) => {
      const s = states.get(o.sobject);
      return { sobject: o.sobject, phase: s?.phase ?? 'initial', synced: Number(s?.synced ?? 0), total: Math.max(Number(s?.total ?? 0), Number(s?.synced ?? 0)) };
    });
    const synced = objects.reduce((n, o) => n + o.synced, 0);
    const total = objects.reduce((n, o) => n + o.total, 0);
    const ready = states.size === MIRRORED.length && objects.every((o) => o.phase === 'incremental');
    let etaSeconds: number | null = null;
    if (!ready && this.runStartedAt) {
      const done = synced - this.runSyncedAtStart;
      const elapsed = (this.clock() - this.runStartedAt) / 1000;
      if (done > 0 && elapsed > 0) etaSeconds = Math.max(0, Math.round(((total - synced) / done) * elapsed));
    }
    const all = [...states.values()];
    const polls = all.map((s) => s.polled_at).filter((x): x is string => !!x).sort();
    const starts = all.map((s) => s.started_at).sort();
    const completions = all.map((s) => s.completed_at);
    return {
      state: states.size === 0 ? 'not-started' : ready ? 'ready' : 'initial',
      synced,
      total,
      percent: total === 0 ? (ready ? 100 : 0) : Math.min(100, Math.round((synced / total) * 1000) / 10),
      etaSeconds: ready ? null : etaSeconds,
      objects,
      startedAt: starts[0] ?? null,
      completedAt: ready ? (completions.filter((x): x is string => !!x).sort().at(-1) ?? null) : null,
      lastPollAt: polls.at(-1) ?? null,
      lastError: this.lastError,
    };
  }
}
