/**
 * The durable outbox: everything that must reach the CRM is first a row here, written in the same
 * transaction as what caused it (the final call record), then delivered by a worker through the
 * CRM port with retries and exponential backoff. The idempotency key (call id + user) makes a
 * repeated delivery harmless, so a crash between "delivered" and "marked" duplicates nothing; a
 * CRM outage or a restart loses nothing.
 */
import { EventEmitter } from 'node:events';
import type { Transaction } from 'kysely';
import type { CallLog, CrmPort, InvitationLog } from '../crm/index.ts';
import type { Mailer, OutgoingMail } from '../mail/index.ts';
import { newId, nowIso, sql, type Database, type OutboxRow, type Store } from '../store/index.ts';

type Trx = Transaction<Database>;

export type OutboxItem =
  | { kind: 'call'; log: CallLog }
  | { kind: 'call-notes'; key: string; notes: string | null }
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

  /** Something was enqueued: deliver now rather than at the next poll. */
  wake(): void {
    if (this.running) this.again = true;
    else this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.run(), ms);
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

  /** Claims due rows (a 30 s lease), delivers them; returns how many it handled. */
  private async deliverBatch(): Promise<number> {
    const db = this.options.store.db;
    const now = nowIso(this.clock);
    const lease = nowIso(() => this.clock() + 30_000);
    const due = (eb: any) =>
      eb.and([eb('delivered_at', 'is', null), eb('next_attempt_at', '<=', now), eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', now)])]);
    const rows: OutboxRow[] = await db
      .updateTable('activity_outbox')
      .set({ locked_until: lease })
      .where((eb) => eb('id', 'in', eb.selectFrom('activity_outbox').select('id').where(due).orderBy('next_attempt_at').limit(50)))
      // Checked again on the locked row: another node may have claimed it meanwhile.
      .where(due)
      .returningAll()
      .execute();
    for (const row of rows) await this.deliver(row);
    return rows.length;
  }

  private async deliver(row: OutboxRow): Promise<void> {
    const db = this.options.store.db;
    if (Number(row.attempts) > 0) this.stats.retried++;
    try {
      const item = JSON.parse(row.payload) as OutboxItem;
      let ref: string | null = null;
      if (item.kind === 'call') {
        // A call that ended before its screen pop finished carries no record: match it now.
        if (!item.log.record && item.log.counterpart.number) {
          const best = (await this.options.crm.findByPhone(item.log.counterpart.number))[0];
          if (best) item.log.record = best.ref;
        }
        ref = (await this.options.crm.logCall(item.log)).ref;
      }
      else if (item.kind === 'call-notes') await this.options.crm.updateCallNotes(item.key, item.notes);
      else if (item.kind === 'invitation') ref = (await this.options.crm.logInvitation(item.log)).ref;
      else {
        if (!this.options.mailer) throw new Error('no mailer configured');
        ref = (await this.options.mailer.send(item.mail)).messageId;
      }
      await db
        .updateTable('activity_outbox')
        .set({ delivered_at: nowIso(this.clock), crm_ref: ref, locked_until: null, last_error: null, attempts: sql`attempts + 1` })
        .where('id', '=', row.id)
        .execute();
      this.stats.delivered++;
      this.emit('delivered', row);
    } catch (err) {
      const attempts = Number(row.attempts) + 1;
      const base = this.options.baseBackoffMs ?? 1000;
      const delay = Math.min(this.options.maxBackoffMs ?? 300_000, base * 2 ** (attempts - 1));
      const message = err instanceof Error ? err.message : String(err);
      await db
        .updateTable('activity_outbox')
        .set({ attempts, next_attempt_at: nowIso(() => this.clock() + delay), locked_until: null, last_error: message.slice(0, 500) })
        .where('id', '=', row.id)
        .execute();
      this.stats.failed++;
      if (attempts === 1 || attempts % 10 === 0) this.options.log.warn({ key: row.idempotency_key, attempts, err: message }, 'CRM delivery failed; will retry');
    }
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

  /** Waits until nothing due is left (tests, shutdown). */
  async drain(): Promise<void> {
    this.wake();
    while (this.running) await this.running;
  }

  async close(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
