/**
 * Call events: what the B2BUA tells the rest of Ringside about each call — started, ringing on a
 * device, answered on a device, ended with a cause — on an in-process bus, and recorded in the
 * `calls` and `call_events` tables by `CallRecorder` (batched: at a thousand calls a second, one
 * transaction per event would be the bottleneck).
 */
import { EventEmitter } from 'node:events';
import type { Insertable, Kysely, Transaction, Updateable } from 'kysely';
import { buildCallLogs, enqueue } from '../activity/index.ts';
import { newId, type CallDirection, type CallPartiesTable, type CallsTable, type Database, type Store } from '../store/index.ts';

export interface CallParty {
  /** The SIP URI as presented. */
  uri: string;
  /** E.164 for phone numbers, else an extension or SIP username. */
  number: string | null;
  display: string | null;
  userId: string | null;
}

export type CallEndCause =
  | 'completed'
  | 'no-answer'
  | 'busy'
  | 'declined'
  | 'cancelled'
  | 'unavailable'
  | 'not-found'
  | 'forbidden'
  | 'failed'
  | 'interrupted';

export type CallEvent =
  | {
      type: 'call.started';
      callId: string;
      at: number;
      direction: CallDirection;
      from: CallParty;
      to: CallParty;
      /** Users whose devices this call rings. */
      calleeUserIds: string[];
      trunk: string | null;
      sipCallId: string;
      /** The CRM record the call belongs to: the caller's click-to-dial record, or a guest's invitation's. */
      context: { type: 'contact' | 'lead' | 'account'; id: string } | null;
      /** The caller offered video. */
      video: boolean;
      /** A guest's call from an invitation link. */
      invitationId: string | null;
    }
  | { type: 'call.ringing'; callId: string; at: number; userId: string | null; device: string; registrationId: string | null }
  | { type: 'call.answered'; callId: string; at: number; userId: string | null; device: string; registrationId: string | null }
  | {
      type: 'call.ended';
      callId: string;
      at: number;
      cause: CallEndCause;
      sipStatus: number | null;
      /** Seconds from answer to hang-up; 0 when never answered. */
      durationS: number;
      hangupBy: 'caller' | 'callee' | 'system' | null;
    };

export type CallEventType = CallEvent['type'];

export class CallEventBus extends EventEmitter {
  publish(event: CallEvent): void {
    this.emit(event.type, event);
    this.emit('event', event);
  }

  override on(event: 'event', listener: (e: CallEvent) => void): this;
  override on<T extends CallEventType>(event: T, listener: (e: Extract<CallEvent, { type: T }>) => void): this;
  override on(event: string, listener: (...args: any[]) => void): this {
    return super.on(event, listener);
  }
}

/**
 * Writes every call event into the store, a batch per tick (at a thousand calls a second, one
 * transaction per event would be the bottleneck). On the same connection as everything else: a
 * second SQLite writer (a worker thread was tried) turns every collision into lock waits.
 */
export class CallRecorder extends EventEmitter {
  private queue: CallEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    bus: CallEventBus,
    private readonly nodeId: string,
    private readonly log: { warn(obj: object, msg?: string): void },
    private readonly batchMs = 20,
  ) {
    super();
    bus.on('event', (e) => this.enqueue(e));
  }

  private enqueue(event: CallEvent): void {
    this.queue.push(event);
    if (this.queue.length >= 200) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.batchMs);
  }

  /** Writes everything queued so far; resolves when it is in the store. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const batch = this.queue;
    this.queue = [];
    this.flushing = this.flushing.then(() => (batch.length ? this.write(batch) : undefined));
    return this.flushing;
  }

  private async write(batch: CallEvent[]): Promise<void> {
    try {
      await writeCallEvents(this.store.db, batch, this.nodeId);
      this.emit('written', batch);
    } catch (err) {
      this.log.warn({ err, events: batch.length }, 'could not record call events');
    }
  }

  async close(): Promise<void> {
    await this.flush();
  }
}

/**
 * One transaction per batch, few statements: each call's row is merged to what this batch
 * leaves it as (a call that starts and is answered in the same 20 ms is one insert), and all
 * events go in one multi-row insert.
 */
export async function writeCallEvents(db: Kysely<Database>, batch: CallEvent[], nodeId: string): Promise<void> {
  const inserts = new Map<string, Insertable<CallsTable>>();
  const updates = new Map<string, Updateable<CallsTable>>();
  const parties: Insertable<CallPartiesTable>[] = [];
  const ended = new Set<string>();
  const patch = (callId: string, fields: Updateable<CallsTable>) => {
    const started = inserts.get(callId);
    if (started) Object.assign(started, fields);
    else updates.set(callId, { ...updates.get(callId), ...fields });
  };
  for (const e of batch) {
    const at = new Date(e.at).toISOString();
    switch (e.type) {
      case 'call.started':
        inserts.set(e.callId, {
          id: e.callId,
          direction: e.direction,
          from_uri: e.from.uri,
          from_number: e.from.number,
          from_display: e.from.display,
          to_uri: e.to.uri,
          to_number: e.to.number,
          caller_user_id: e.from.userId,
          callee_user_id: e.to.userId,
          trunk: e.trunk,
          state: 'ringing',
          started_at: at,
          answered_at: null,
          ended_at: null,
          answered_device: null,
          answered_registration_id: null,
          cause: null,
          sip_status: null,
          hangup_by: null,
          duration_s: null,
          node_id: nodeId,
          sip_call_id: e.sipCallId,
          video: e.video ? 1 : 0,
          invitation_id: e.invitationId,
          answered_user_id: null,
          updated_at: at,
        });
        // Everyone the call belongs to gets one activity: the calling user and each user it rings.
        if (e.from.userId) {
          parties.push({
            call_id: e.callId,
            user_id: e.from.userId,
            role: 'caller',
            record_type: e.context?.type ?? null,
            record_id: e.context?.id ?? null,
            record_source: e.context ? 'click-to-dial' : null,
            matches: null,
            notes: null,
            quality: null,
            created_contact_id: null,
            updated_at: at,
          });
        }
        for (const userId of e.calleeUserIds) {
          if (userId === e.from.userId) continue; // calling oneself: one activity
          // A guest's call belongs to the record the invitation was for.
          const invited = e.invitationId ? e.context : null;
          parties.push({
            call_id: e.callId,
            user_id: userId,
            role: 'callee',
            record_type: invited?.type ?? null,
            record_id: invited?.id ?? null,
            record_source: invited ? 'invitation' : null,
            matches: null,
            notes: null,
            quality: null,
            created_contact_id: null,
            updated_at: at,
          });
        }
        break;
      case 'call.answered':
        patch(e.callId, { state: 'answered', answered_at: at, answered_device: e.device, answered_registration_id: e.registrationId, answered_user_id: e.userId, updated_at: at });
        break;
      case 'call.ended':
        patch(e.callId, { state: 'ended', ended_at: at, cause: e.cause, sip_status: e.sipStatus, duration_s: e.durationS, hangup_by: e.hangupBy, updated_at: at });
        ended.add(e.callId);
        break;
      case 'call.ringing':
        break;
    }
  }
  const events = batch.map((e) => {
    const { type, callId, at, ...data } = e;
    return { id: newId(), call_id: callId, type, at: new Date(at).toISOString(), data: JSON.stringify(data) };
  });
  await db.transaction().execute(async (trx) => {
    if (inserts.size > 0) await trx.insertInto('calls').values([...inserts.values()]).execute();
    if (parties.length > 0) await trx.insertInto('call_parties').values(parties).onConflict((oc) => oc.columns(['call_id', 'user_id']).doNothing()).execute();
    for (const [id, fields] of updates) await trx.updateTable('calls').set(fields).where('id', '=', id).execute();
    if (events.length > 0) await trx.insertInto('call_events').values(events).execute();
    // The final call record and its activities in one transaction: nothing is lost between them.
    if (ended.size > 0) await enqueueCallLogs(trx, [...ended], batch.at(-1)!.at);
  });
}

/** Outbox rows for finished calls (one per user of each call), inside the recorder's transaction. */
export async function enqueueCallLogs(trx: Transaction<Database>, callIds: string[], at: number): Promise<void> {
  const calls = await trx.selectFrom('calls').selectAll().where('id', 'in', callIds).execute();
  const parties = await trx.selectFrom('call_parties').selectAll().where('call_id', 'in', callIds).execute();
  const userIds = [...new Set(calls.map((c) => c.answered_user_id).filter((u): u is string => u !== null))];
  const names = new Map(
    userIds.length ? (await trx.selectFrom('users').select(['id', 'name']).where('id', 'in', userIds).execute()).map((u) => [u.id, u.name] as const) : [],
  );
  const items = calls.flatMap((call) =>
    buildCallLogs(call, parties.filter((p) => p.call_id === call.id), (id) => names.get(id)).map((log) => ({ key: log.key, userId: log.userId, item: { kind: 'call' as const, log } })),
  );
  await enqueue(trx, items, new Date(at).toISOString());
}
