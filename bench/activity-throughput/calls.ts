/**
 * What bench/activity-throughput and its delivery child share: publishing finished calls on the
 * app server's event bus, and counting, in the CRM, the activities each of those calls got.
 */
import { randomUUID } from 'node:crypto';
import type { TestServer } from '../../test/support/server.ts';
import { sql } from '../../src/store/index.ts';

/** The caller name bench call `i` shows: how its activities are found again in the CRM. */
export const benchCaller = (i: number) => `Bench call ${i}`;

/**
 * Publishes `count` finished calls to alice (started, answered, ended — what the B2BUA publishes;
 * SIP itself is measured by bench/sip-load), letting the recorder and the outbox run alongside as
 * on a live server.
 */
export async function publishFinishedCalls(server: TestServer, count: number): Promise<void> {
  const { sip, crm } = server.ringside;
  const alice = (await sip.users.find('alice'))!;
  const contacts = (await crm.listContacts({ limit: 100 })).data.flatMap((c) => c.phones.filter((p) => p.e164).map((p) => p.e164!));
  for (let i = 0; i < count; i++) {
    const callId = randomUUID();
    const number = contacts[i % contacts.length]!;
    // A one-minute call that ends now (events carry the time they happened; the outbox row is due
    // from the end of the call).
    const at = Date.now() - 61_000;
    sip.events.publish({
      type: 'call.started',
      callId,
      at,
      direction: 'inbound',
      from: { uri: `sip:${number}@trunk`, number, display: benchCaller(i), userId: null },
      to: { uri: 'sip:alice@ringside', number: '+14155550100', display: alice.name, userId: alice.id },
      calleeUserIds: [alice.id],
      trunk: 'bench',
      sipCallId: `${callId}@bench`,
      context: null,
      video: false,
      invitationId: null,
    });
    sip.events.publish({ type: 'call.answered', callId, at: at + 1000, userId: alice.id, device: 'Browser', registrationId: null });
    sip.events.publish({ type: 'call.ended', callId, at: at + 61_000, cause: 'completed', sipStatus: null, durationS: 60, hangupBy: 'caller' });
    if (i % 200 === 199) await new Promise((r) => setImmediate(r));
  }
  await sip.recorder.flush();
}

export interface ActivityCount {
  /** Bench calls with at least one call activity. */
  callsLogged: number;
  /** Bench calls with more than one. */
  callsWithDuplicates: number;
  /** Activities beyond the first, summed over those calls. */
  extraActivities: number;
}

/**
 * Call activities per bench call (and user), found by what each activity shows — the caller name
 * that call carried — rather than by the idempotency-key column: that column is unique, so
 * grouping by it could never find two; a CRM that wrote a call twice would show it here.
 * (SQLite's json_extract: the bench runs on SQLite.)
 */
export async function countActivitiesPerCall(server: TestServer): Promise<ActivityCount> {
  const { rows } = await sql<{ calls: number; with_duplicates: number | null; extra: number | null }>`
    select count(*) as calls, sum(n > 1) as with_duplicates, sum(n - 1) as extra from (
      select count(*) as n from activities
      where kind = 'call' and json_extract(details, '$.counterpart.display') like 'Bench call %'
      group by user_id, json_extract(details, '$.counterpart.display'))`.execute(server.ringside.store.db);
  const r = rows[0]!;
  return { callsLogged: Number(r.calls), callsWithDuplicates: Number(r.with_duplicates ?? 0), extraActivities: Number(r.extra ?? 0) };
}
