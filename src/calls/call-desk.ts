/**
 * The CRM side of live calls (the "calls → crm" arrow of the architecture):
 *
 * - screen pop: when a call starts, the caller's number is looked up through the CRM port — in
 *   parallel with the forking, not before it — and the result is pushed to every browser of the
 *   user over its SIP connection; the matches are kept on the user's part of the call;
 * - what the widget does with a call: pick the right record among several, Add contact (one
 *   contact per call and number, however many clicks or devices), wrap-up notes (editable after
 *   the call: the CRM is updated through the outbox), quality figures;
 * - the user's recent calls, with the missed ones to call back.
 */
import { createHash } from 'node:crypto';
import { buildCallLogs, enqueue, estimateMos, type OutboxItem } from '../activity/index.ts';
import type { AppServer, CallEvent } from '../appserver/index.ts';
import type { CallDisposition, CrmMatch, CrmPort, CrmRecordSummary, RecordRef } from '../crm/index.ts';
import { AppError, NotFoundError, ValidationError } from '../shared/errors.ts';
import { nowIso, type CallParty, type Store } from '../store/index.ts';

export interface CardMatch {
  type: RecordRef['type'];
  id: string;
  name: string;
  title: string | null;
  account: string | null;
  url: string;
  match: 'exact' | 'suffix';
  last_activity: { subject: string; at: string } | null;
}

/** What the widget's call card shows, pushed as `{type:'screen-pop', …}`. */
export interface ScreenPopMessage {
  type: 'screen-pop';
  call_id: string;
  direction: 'inbound' | 'outbound';
  number: string | null;
  number_display: string | null;
  caller_name: string | null;
  /** A colleague (internal call): no CRM lookup. */
  colleague: string | null;
  matches: CardMatch[];
  /** The record this call is linked to already (click-to-dial). */
  linked: RecordRef | null;
}

/** Outbox keys of later changes to a logged call: the change, the call's key, when. */
const UPDATE_KEY_PREFIX = { 'call-notes': 'notes', 'call-quality': 'quality' } as const;

export interface RecentCall {
  call_id: string;
  direction: 'inbound' | 'outbound';
  number: string | null;
  number_display: string | null;
  name: string | null;
  started_at: string;
  duration_s: number;
  /** An incoming call the user neither answered nor declined (answered by a colleague counts). */
  missed: boolean;
  /** What the call was for this user, as its activity says; null while it is still going on. */
  disposition: CallDisposition | null;
  state: string;
  record: RecordRef | null;
  /** The user's wrap-up notes (editable with PUT /api/v1/calls/:id/notes). */
  notes: string | null;
}

export interface CallDeskOptions {
  store: Store;
  crm: CrmPort;
  sip: AppServer;
  display: (number: string) => string;
  log: { info(o: object, m?: string): void; warn(o: object, m?: string): void };
  clock?: () => number;
}

export class CallDesk {
  private readonly clock: () => number;

  constructor(private readonly options: CallDeskOptions) {
    this.clock = options.clock ?? Date.now;
    options.sip.events.on('call.started', (e) => {
      void this.screenPop(e).catch((err: unknown) => options.log.warn({ err, call: e.callId }, 'screen pop failed'));
    });
  }

  // ---------------------------------------------------------------- screen pop

  private async screenPop(e: Extract<CallEvent, { type: 'call.started' }>): Promise<void> {
    const pops: { userId: string; message: ScreenPopMessage }[] = [];
    const inboundFrom = e.from.userId === null ? e.from : null;
    // Each callee sees who is calling; the calling user sees who they are calling.
    for (const userId of e.calleeUserIds) {
      if (userId === e.from.userId) continue;
      // A guest from an invitation has no number: the card shows the record they were invited from.
      const invited = e.invitationId ? e.context : null;
      pops.push({ userId, message: await this.card(e.callId, 'inbound', e.from.number, e.from.display, inboundFrom ? null : e.from.display, invited) });
    }
    if (e.from.userId) {
      const colleague = e.to.userId ? e.to.display : null;
      // Salesforce is read as the integration user, who sees records this user may not: a record
      // named only by the caller's own X-Ringside-Record is not described (the number's matches are).
      const describeLinked = this.options.crm.kind !== 'salesforce';
      pops.push({ userId: e.from.userId, message: await this.card(e.callId, 'outbound', e.to.number, null, colleague, e.context, describeLinked) });
    }
    // Push first (the widget is ringing now) without waiting for the browsers to confirm, then
    // keep the matches: the call's activity needs them even if it ends in a moment.
    for (const p of pops) void this.options.sip.notifyUser(p.userId, p.message);
    await this.options.sip.recorder.flush(); // the call's parties are written
    for (const p of pops) {
      if (p.message.matches.length === 0) continue;
      await this.options.store.db
        .updateTable('call_parties')
        .set({ matches: JSON.stringify(p.message.matches.map((m) => ({ type: m.type, id: m.id, name: m.name }))), updated_at: nowIso(this.clock) })
        .where('call_id', '=', e.callId)
        .where('user_id', '=', p.userId)
        .execute();
    }
  }

  private async card(
    callId: string,
    direction: 'inbound' | 'outbound',
    number: string | null,
    callerName: string | null,
    colleague: string | null,
    linked: RecordRef | null,
    describeLinked = true,
  ): Promise<ScreenPopMessage> {
    let matches = colleague || !number ? [] : await this.lookup(number);
    if (matches.length === 0 && linked && describeLinked) matches = await this.recordCard(linked);
    return {
      type: 'screen-pop',
      call_id: callId,
      direction,
      number,
      number_display: number ? this.options.display(number) : null,
      caller_name: callerName,
      colleague,
      matches,
      linked,
    };
  }

  /** The CRM's records for a number, best first, with their last activity for the card. */
  async lookup(number: string): Promise<CardMatch[]> {
    const found: CrmMatch[] = (await this.options.crm.findByPhone(number)).slice(0, 10);
    return Promise.all(
      found.map(async (m) => ({
        type: m.ref.type,
        id: m.ref.id,
        name: m.name,
        title: m.title,
        account: m.accountName,
        url: m.url,
        match: m.match,
        last_activity: await this.options.crm.lastActivity(m.ref),
      })),
    );
  }

  /** A known record as a card match (a guest's invited contact, a click-to-dial record without a number match). */
  private async recordCard(ref: RecordRef): Promise<CardMatch[]> {
    const r = await this.options.crm.getRecord(ref).catch(() => null);
    if (!r) return [];
    return [
      { type: r.ref.type, id: r.ref.id, name: r.name, title: r.title, account: r.accountName, url: r.url, match: 'exact', last_activity: await this.options.crm.lastActivity(r.ref) },
    ];
  }

  // ---------------------------------------------------------------- the widget's actions

  private async party(callId: string, userId: string): Promise<CallParty> {
    await this.options.sip.recorder.flush();
    const party = await this.options.store.db.selectFrom('call_parties').selectAll().where('call_id', '=', callId).where('user_id', '=', userId).executeTakeFirst();
    if (!party) throw new NotFoundError('Call');
    return party;
  }

  /** The user picked the record this call is about (several contacts share the number). */
  async link(callId: string, userId: string, ref: RecordRef): Promise<void> {
    await this.party(callId, userId);
    if (!(await this.options.crm.getRecord(ref))) throw new ValidationError('record_id', `No ${ref.type} with this id`);
    await this.setRecord(callId, userId, ref, 'picker');
  }

  /**
   * Add contact for the number of this call. One contact per call and number (the CRM keys it on
   * them), so a double click or a second device finds the first one instead of making another. When
   * the CRM's duplicate rule finds the number or email on an existing record, that record is linked
   * and offered instead (`duplicate`).
   */
  async addContact(
    callId: string,
    userId: string,
    input: { first_name: string; last_name: string; account_id?: string | null },
  ): Promise<{ contactId: string; created: boolean; duplicate: boolean; record: CrmRecordSummary }> {
    const party = await this.party(callId, userId);
    const call = await this.options.store.db.selectFrom('calls').selectAll().where('id', '=', callId).executeTakeFirstOrThrow();
    const number = party.role === 'callee' ? call.from_number : call.to_number;
    if (!number) throw new AppError(409, 'no_number', 'This call has no number to save', 'number');
    const { record, created, duplicate } = await this.options.crm.addContact(
      { firstName: input.first_name, lastName: input.last_name, phone: number, accountId: input.account_id ?? null },
      { key: `add-contact|${callId}|${number}`, userId },
    );
    await this.options.store.db.updateTable('call_parties').set({ created_contact_id: record.ref.id, updated_at: nowIso(this.clock) }).where('call_id', '=', callId).where('user_id', '=', userId).execute();
    await this.setRecord(callId, userId, record.ref, 'add-contact');
    return { contactId: record.ref.id, created, duplicate, record };
  }

  private async setRecord(callId: string, userId: string, ref: RecordRef, source: 'picker' | 'add-contact'): Promise<void> {
    await this.options.store.db
      .updateTable('call_parties')
      .set({ record_type: ref.type, record_id: ref.id, record_source: source, updated_at: nowIso(this.clock) })
      .where('call_id', '=', callId)
      .where('user_id', '=', userId)
      .execute();
  }

  /** Wrap-up notes, during or after the call; after it, the CRM's activity is updated through the outbox. */
  async setNotes(callId: string, userId: string, notes: string | null): Promise<void> {
    await this.updateParty(callId, userId, { notes }, (key) => ({ kind: 'call-notes', key, notes }));
  }

  /** Quality figures from the widget's getStats (the relay's RTCP adds its own). */
  async setQuality(callId: string, userId: string, q: { jitter_ms?: number | null; loss_pct?: number | null; rtt_ms?: number | null }): Promise<void> {
    const figures = { jitterMs: q.jitter_ms ?? null, lossPct: q.loss_pct ?? null, rttMs: q.rtt_ms ?? null };
    const quality = { ...figures, mos: estimateMos(figures) };
    // The browser's last report often comes just after the hang-up, when the call is already logged.
    await this.updateParty(callId, userId, { quality: JSON.stringify(quality) }, (key) => ({ kind: 'call-quality', key, quality }));
  }

  /**
   * Changes this user's side of a call and, when the call is logged already, puts the change for
   * the CRM's activity in the outbox in the same transaction.
   */
  private async updateParty(
    callId: string,
    userId: string,
    set: { notes: string | null } | { quality: string },
    update: (key: string) => Extract<OutboxItem, { kind: 'call-notes' | 'call-quality' }>,
  ): Promise<void> {
    await this.party(callId, userId);
    const key = `call:${callId}:${userId}`;
    await this.options.store.db.transaction().execute(async (trx) => {
      await trx.updateTable('call_parties').set({ ...set, updated_at: nowIso(this.clock) }).where('call_id', '=', callId).where('user_id', '=', userId).execute();
      const logged = await trx.selectFrom('activity_outbox').select('id').where('idempotency_key', '=', key).executeTakeFirst();
      if (logged) {
        const item = update(key);
        await enqueue(trx, [{ key: `${UPDATE_KEY_PREFIX[item.kind]}:${key}:${this.clock()}`, userId, item }], nowIso(this.clock));
      }
    });
  }

  /**
   * The user's latest calls, newest first, each with what it was for this user (the disposition
   * its activity says: declined is not missed) and its wrap-up notes; missed ones can be called back.
   */
  async recent(userId: string, limit = 20): Promise<RecentCall[]> {
    await this.options.sip.recorder.flush();
    const db = this.options.store.db;
    const parties = await db
      .selectFrom('call_parties as p')
      .innerJoin('calls as c', 'c.id', 'p.call_id')
      .selectAll('p')
      .where('p.user_id', '=', userId)
      .orderBy('c.started_at', 'desc')
      .limit(Math.min(Math.max(limit, 1), 100))
      .execute();
    if (parties.length === 0) return [];
    const calls = new Map((await db.selectFrom('calls').selectAll().where('id', 'in', parties.map((p) => p.call_id)).execute()).map((c) => [c.id, c]));
    return parties.flatMap((party): RecentCall[] => {
      const call = calls.get(party.call_id);
      if (!call) return [];
      const inbound = party.role === 'callee';
      const number = inbound ? call.from_number : call.to_number;
      let name: string | null = inbound ? call.from_display : null;
      try {
        name = (JSON.parse(party.matches ?? '[]') as { name: string }[])[0]?.name ?? name;
      } catch {
        // keep the display name
      }
      // The same words as the call's activity in the CRM (activity/call-logs.ts), once it ended.
      const disposition = call.state === 'ended' ? buildCallLogs(call, [party], () => undefined)[0]!.disposition : null;
      return [
        {
          call_id: call.id,
          direction: inbound ? 'inbound' : 'outbound',
          number,
          number_display: number ? this.options.display(number) : null,
          name,
          started_at: call.started_at,
          duration_s: Number(call.duration_s ?? 0),
          // Not answered by this user, and not turned down by them either.
          missed: inbound && disposition !== null && (disposition === 'answered-elsewhere' || (call.answered_at === null && disposition !== 'declined')),
          disposition,
          state: call.state,
          record: party.record_type && party.record_id ? { type: party.record_type, id: party.record_id } : null,
          notes: party.notes,
        },
      ];
    });
  }
}

/** A UUID (version-4 layout) derived from a key: the same key, the same id, on any node. */
export function deterministicUuid(key: string): string {
  const h = createHash('sha256').update(key).digest();
  h[6] = (h[6]! & 0x0f) | 0x40;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}
