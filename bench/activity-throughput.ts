/**
 * bench/activity-throughput — finished calls to CRM activities through the durable outbox.
 *
 * Starts Ringside (SQLite in a temporary directory), publishes N finished calls on the app
 * server's event bus (started, answered, ended — what the B2BUA publishes; SIP itself is measured
 * by bench/sip-load), with 1 % of CRM deliveries failing at random, and waits until every
 * activity is in the built-in CRM. Prints one JSON line:
 *   {calls, activities_expected, delivered, lost, duplicated, activities_per_s, failures_injected, retries}
 *
 *   npm run bench:activity-throughput [-- --calls 10000 --fail-rate 0.01]
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { startServer } from '../test/support/server.ts';
import { waitFor } from '../test/support/wait.ts';

const { values: args } = parseArgs({ options: { calls: { type: 'string', default: '10000' }, 'fail-rate': { type: 'string', default: '0.01' } } });
const CALLS = Number(args.calls);
const FAIL_RATE = Number(args['fail-rate']);
const log = (m: string) => process.stderr.write(`[activity-throughput] ${m}\n`);

const server = await startServer({ env: { ACTIVITY_RETRY_BASE_MS: '100', ACTIVITY_RETRY_MAX_MS: '2000' } });
try {
  const { sip, crm, store } = server.ringside;
  let injected = 0;
  crm.failures = { shouldFail: () => Math.random() < FAIL_RATE && ++injected > 0 };
  const alice = (await sip.users.find('alice'))!;
  const contacts = (await crm.listContacts({ limit: 100 })).data.flatMap((c) => c.phones.filter((p) => p.e164).map((p) => p.e164!));
  log(`publishing ${CALLS} finished calls`);
  const started = performance.now();
  for (let i = 0; i < CALLS; i++) {
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
      from: { uri: `sip:${number}@trunk`, number, display: null, userId: null },
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
    // Let the recorder and the outbox run alongside, as on a live server.
    if (i % 200 === 199) await new Promise((r) => setImmediate(r));
  }
  await sip.recorder.flush();
  await waitFor(async () => (await server.ringside.outbox.undelivered(1)).length === 0, { timeoutMs: 600_000, intervalMs: 200, what: 'every activity delivered' });
  const seconds = (performance.now() - started) / 1000;
  const rows = await store.db
    .selectFrom('activities')
    .select(['idempotency_key'])
    .where('kind', '=', 'call')
    .where('idempotency_key', 'like', 'call:%')
    .execute();
  const keys = rows.map((r) => r.idempotency_key!);
  const distinct = new Set(keys);
  console.log(
    JSON.stringify({
      calls: CALLS,
      activities_expected: CALLS,
      delivered: distinct.size,
      lost: CALLS - distinct.size,
      duplicated: keys.length - distinct.size,
      activities_per_s: Math.round(CALLS / seconds),
      failures_injected: injected,
      retries: server.ringside.outbox.stats.retried,
    }),
  );
} finally {
  await server.stop();
}
