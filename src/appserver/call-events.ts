/**
 * Call events: what the B2BUA tells the rest of Ringside about each call — started, ringing on a
 * device, answered on a device, ended with a cause — on an in-process bus, and recorded in the
 * `calls` and `call_events` tables by `CallRecorder` (batched: at a thousand calls a second, one
 * transaction per event would be the bottleneck).
 */
import { EventEmitter } from 'node:events';
import { newId, type CallDirection, type Store } from '../store/index.ts';

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

/** Writes every call event into the store, a batch per tick. */
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
    if (this.queue.length >= 500) void this.flush();
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
      await this.store.db.transaction().execute(async (trx) => {
        for (const e of batch) {
          const at = new Date(e.at).toISOString();
          switch (e.type) {
            case 'call.started':
              await trx
                .insertInto('calls')
                .values({
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
                  node_id: this.nodeId,
                  sip_call_id: e.sipCallId,
                })
                .execute();
              break;
            case 'call.answered':
              await trx
                .updateTable('calls')
                .set({ state: 'answered', answered_at: at, answered_device: e.device, answered_registration_id: e.registrationId })
                .where('id', '=', e.callId)
                .execute();
              break;
            case 'call.ended':
              await trx
                .updateTable('calls')
                .set({ state: 'ended', ended_at: at, cause: e.cause, sip_status: e.sipStatus, duration_s: e.durationS, hangup_by: e.hangupBy })
                .where('id', '=', e.callId)
                .execute();
              break;
            case 'call.ringing':
              break;
          }
          const { type, callId, at: _at, ...data } = e;
          await trx.insertInto('call_events').values({ id: newId(), call_id: callId, type, at, data: JSON.stringify(data) }).execute();
        }
      });
      this.emit('written', batch);
    } catch (err) {
      this.log.warn({ err, events: batch.length }, 'could not record call events');
    }
  }

  async close(): Promise<void> {
    await this.flush();
  }
}
