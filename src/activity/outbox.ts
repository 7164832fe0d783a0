/**
 * The durable outbox: everything that must reach the CRM is first a row here, written in the same
 * transaction as what caused it (the final call record), then delivered by a worker through the
 * CRM port with retries and exponential backoff. The idempotency key (call id + user) makes a
 * repeated delivery harmless, so a crash between "delivered" and "marked" duplicates nothing; a
 * CRM outage or a restart loses nothing.
 */
import { EventEmitter } from 'node:events';
import type { Transaction } from 'kysely';
import type { CallLog, CallQuality, CrmPort, DeliveryResult, InvitationLog } from '../crm/index.ts';
import type { Mailer, OutgoingMail } from '../mail/index.ts';
import { newId, nowIso, sql, type Database, type OutboxRow, type Store } from '../store/index.ts';

type Trx = Transaction<Database>;

export type OutboxItem =
  | { kind: 'call'; log: CallLog }
  | { kind: 'call-notes'; key: string; notes: string | null }
  | { kind: 'call-quality'; key: string; quality: CallQuality }
  | { kind: 'invitation'; log: InvitationLog }
  | { kind: 'mail'; invitationId: string; mail: OutgoingMail };

/** Puts call logs in the outbox, inside the caller's transaction (no-op for a key already there). */
export async function enqueue(trx: Trx, items: { key: string; userId: string | null; item: OutboxItem }[], now: string): Promise<void> {
  if (items.length === 0) return;
  await trx
    .insertInto('activity_outbox')
    .values(
      items.map((i) => ({
        id: newId(),
        idempotency_key: i.key,
        kind: i.item.kind,
        user_id: i.userId,
        payload: JSON.stringify(i.item),
        attempts: 0,
        next_attempt_at: now,
        locked_until: null,
        last_error: null,
        delivered_at: null,
        crm_ref: null,
        created_at: now,
      })),
    )
    .onConflict((oc) => oc.column('idempotency_key').doNothing())
    .execute();
}

export interface OutboxStats {
  /** Items the CRM took. */
  delivered: number;
  /** Attempts after a failed one. */
  retried: number;
  /** Attempts the CRM refused or that errored (each is retried later). */
  failed: number;
}

export interface OutboxOptions {
  store: Store;
  crm: CrmPort;
  /** Where `mail` items go (invitations). */
  mailer?: Mailer;
  log: { info(o: object, m?: string): void; warn(o: object, m?: string): void };
  clock?: () => number;
  /** How often the worker looks for due rows when nothing woke it (another node's rows, retries). */
  pollMs?: number;
  /** First retry delay; doubled per attempt up to `maxBackoffMs`. */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
}

/** Delivers the outbox. One per node; nodes share the table and claim rows with a lease. */
export class ActivityOutbox extends EventEmitter {
  readonly stats: OutboxStats = { delivered: 0, retried: 0, failed: 0 };
  private readonly clock: () => number;
  private timer: NodeJS.Timeout | undefined;
  /** When the pending timer fires (a batching CRM's window must not be pushed back by every wake). */
  private timerDue = 0;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(private readonly options: OutboxOptions) {
    super();
    this.clock = options.clock ?? Date.now;
  }

  start(): void {
    this.schedule(0);
  }

  /**
   * Something was enqueued: deliver now rather than at the next poll — or, for a CRM that takes
   * batches, within its batch window, so the calls ending meanwhile travel in the same request.
   */
  wake(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    const windowMs = this.options.crm.logCalls ? (this.options.crm.batching?.windowMs ?? 0) : 0;
    if (windowMs > 0 && this.timer && this.timerDue <= Date.now() + windowMs) return;
    this.schedule(windowMs);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerDue = Date.now() + ms;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.run();
    }, ms);
    this.timer.unref();
  }

  private async run(): Promise<void> {
    if (this.running) return this.running;
    this.running = (async () => {
      try {
        do {
          this.again = false;
          while ((await this.deliverBatch()) > 0 && !this.stopped);
        } while (this.again && !this.stopped);
      } catch (err) {
        this.options.log.warn({ err }, 'outbox worker error');
      } finally {
        this.running = undefined;
        this.schedule(this.options.pollMs ?? 1000);
      }
    })();
    return this.running;
  }

  /** Claims due rows (a lease), delivers them; returns how many it handled. */
  private async deliverBatch(): Promise<number> {
    const db = this.options.store.db;
    const crm = this.options.crm;
    const batchSize = crm.logCalls ? Math.max(1, crm.batching?.maxItems ?? 50) : 50;
    const now = nowIso(this.clock);
    // A batch request to an external CRM may take longer than one local write.
    const lease = nowIso(() => this.clock() + (crm.logCalls ? 120_000 : 30_000));
    const due = (eb: any) =>
      eb.and([eb('delivered_at', 'is', null), eb('next_attempt_at', '<=', now), eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', now)])]);
    const rows: OutboxRow[] = await db
      .updateTable('activity_outbox')
      .set({ locked_until: lease })
      .where((eb) => eb('id', 'in', eb.selectFrom('activity_outbox').select('id').where(due).orderBy('next_attempt_at').limit(batchSize)))
      // Checked again on the locked row: another node may have claimed it meanwhile.
      .where(due)
      .returningAll()
      .execute();
    if (crm.logCalls) {
      // Call logs travel together in one request; anything else one by one.
      const calls: { row: OutboxRow; log: CallLog }[] = [];
      for (const row of rows) {
        const item = parseItem(row);
        if (item?.kind === 'call') calls.push({ row, log: item.log });
        else await this.deliver(row);
      }
      if (calls.length > 0) await this.deliverCalls(calls);
    } else {
      for (const row of rows) await this.deliver(row);
    }
    return rows.length;
  }

  /** A call that ended before its screen pop finished carries no record: match it now. */
  private async matchRecord(log: CallLog): Promise<void> {
    if (!log.record && log.counterpart.number) {
      const best = (await this.options.crm.findByPhone(log.counterpart.number))[0];
      if (best) log.record = best.ref;
    }
  }

  /** Several call logs in one CRM request; each row keeps its own outcome, retries and backoff. */
  private async deliverCalls(calls: { row: OutboxRow; log: CallLog }[]): Promise<void> {
    let results: DeliveryResult[];
    try {
      for (const c of calls) await this.matchRecord(c.log);
      results = await this.options.crm.logCalls!(calls.map((c) => c.log));
      if (results.length !== calls.length) throw new Error(`the CRM answered ${results.length} results for ${calls.length} call logs`);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      results = calls.map(() => ({ ok: false, error: message }));
    }
    for (const [i, c] of calls.entries()) {
      const r = results[i]!;
      if (r.ok) await this.delivered(c.row, r.ref);
      else await this.failed(c.row, r.error, r);
    }
  }

  private async deliver(row: OutboxRow): Promise<void> {
    try {
      const item = JSON.parse(row.payload) as OutboxItem;
      let ref: string | null = null;
      if (item.kind === 'call') {
        await this.matchRecord(item.log);
        ref = (await this.options.crm.logCall(item.log)).ref;
      }
      else if (item.kind === 'call-notes') await this.options.crm.updateCallNotes(item.key, item.notes);
      else if (item.kind === 'call-quality') await this.options.crm.updateCallQuality(item.key, item.quality);
      else if (item.kind === 'invitation') ref = (await this.options.crm.logInvitation(item.log)).ref;
      else {
        if (!this.options.mailer) throw new Error('no mailer configured');
        ref = (await this.options.mailer.send(item.mail)).messageId;
      }
      await this.delivered(row, ref);
    } catch (err) {
      await this.failed(row, err instanceof Error ? err.message : String(err));
    }
  }

  private async delivered(row: OutboxRow, ref: string | null): Promise<void> {
    if (Number(row.attempts) > 0) this.stats.retried++;
    await this.options.store.db
      .updateTable('activity_outbox')
      .set({ delivered_at: nowIso(this.clock), crm_ref: ref, locked_until: null, last_error: null, attempts: sql`attempts + 1` })
      .where('id', '=', row.id)
      .execute();
    this.stats.delivered++;
    this.emit('delivered', row);
  }

  private async failed(row: OutboxRow, message: string, hint: { retryAfterMs?: number; deferred?: boolean } = {}): Promise<void> {
    const db = this.options.store.db;
    if (hint.deferred) {
      // Not tried (the CRM asked to wait): no attempt spent, no backoff grown.
      await db
        .updateTable('activity_outbox')
        .set({ next_attempt_at: nowIso(() => this.clock() + (hint.retryAfterMs ?? 1000)), locked_until: null, last_error: message.slice(0, 500) })
        .where('id', '=', row.id)
        .execute();
      return;
    }
    if (Number(row.attempts) > 0) this.stats.retried++;
    const attempts = Number(row.attempts) + 1;
    const base = this.options.baseBackoffMs ?? 1000;
    const delay = Math.max(hint.retryAfterMs ?? 0, Math.min(this.options.maxBackoffMs ?? 300_000, base * 2 ** (attempts - 1)));
    await db
      .updateTable('activity_outbox')
      .set({ attempts, next_attempt_at: nowIso(() => this.clock() + delay), locked_until: null, last_error: message.slice(0, 500) })
      .where('id', '=', row.id)
      .execute();
    this.stats.failed++;
    if (attempts === 1 || attempts % 10 === 0) this.options.log.warn({ key: row.idempotency_key, attempts, err: message }, 'CRM delivery failed; will retry');
  }

  /** Rows not delivered yet, oldest first, with their last error (the admin's view). */
  async undelivered(limit = 100): Promise<OutboxRow[]> {
    return this.options.store.db
      .selectFrom('activity_outbox')
      .selectAll()
      .where('delivered_at', 'is', null)
      .orderBy('created_at')
      .limit(limit)
      .execute();
  }

  /** Delivers what is due now, without waiting for a batch window (tests, shutdown). */
  async drain(): Promise<void> {
    if (this.running) this.again = true;
    await this.run();
    while (this.running) await this.running;
  }

  async close(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}

function parseItem(row: OutboxRow): OutboxItem | null {
  try {
    return JSON.parse(row.payload) as OutboxItem;
  } catch {
    return null;
  }
}
