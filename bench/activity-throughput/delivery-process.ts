/**
 * One life of a Ringside delivering activities, for bench/activity-throughput's crash check: a
 * child process on the data directory the parent gives it, SIGKILLed by the parent at the worst
 * moment — the CRM has written a call's activity, the outbox has not yet marked it delivered —
 * then started again on the same directory.
 *
 * Environment (set by the parent):
 * - BENCH_DATA_DIR: the data directory, kept from one life to the next;
 * - BENCH_PUBLISH: calls to publish first (the first life only); delivery waits until they are
 *   all recorded, so a kill never leaves a call half recorded;
 * - BENCH_KILL_AFTER: after this many CRM writes in this life, tell the parent and hang (0: no
 *   kill; deliver everything, count and report);
 * - BENCH_CLOCK_OFFSET_MS: how far ahead this life's clock runs. The killed life's rows stay
 *   leased for 30 s (another node might be delivering them); a restart is started as if that
 *   much time had passed, rather than waiting it out.
 *
 * Messages to the parent: {written: key, redeliveries} at the kill point; {done: {redeliveries, ...}}
 * after the last life.
 */
import { BuiltinCrm, type CallLog } from '../../src/crm/index.ts';
import { startServer, type TestServer } from '../../test/support/server.ts';
import { waitFor } from '../../test/support/wait.ts';
import { countActivitiesPerCall, publishFinishedCalls } from './calls.ts';

const dataDir = process.env.BENCH_DATA_DIR!;
const publish = Number(process.env.BENCH_PUBLISH ?? 0);
const killAfter = Number(process.env.BENCH_KILL_AFTER ?? 0);
const offsetMs = Number(process.env.BENCH_CLOCK_OFFSET_MS ?? 0);

let server!: TestServer;
/** Deliveries wait for this: the server started and every call of this life recorded. */
let ready!: () => void;
const started = new Promise<void>((resolve) => (ready = resolve));
let writes = 0;
/** Call logs the CRM was sent again after it had written them (an earlier life was killed before the mark). */
let redeliveries = 0;

// On the class, before the server exists: a restarted outbox delivers as soon as it starts.
const logCall = BuiltinCrm.prototype.logCall;
BuiltinCrm.prototype.logCall = async function (this: BuiltinCrm, log: CallLog) {
  await started;
  const known = await server.ringside.store.db.selectFrom('activities').select('id').where('idempotency_key', '=', log.key).executeTakeFirst();
  if (known) redeliveries++;
  const result = await logCall.call(this, log);
  if (++writes === killAfter) {
    // Written and committed; the outbox is waiting for this answer to mark the row. Die here.
    process.send!({ written: log.key, redeliveries });
    await new Promise(() => {});
  }
  return result;
};

server = await startServer({
  dataDir,
  clock: () => Date.now() + offsetMs,
  env: { ACTIVITY_RETRY_BASE_MS: '100', ACTIVITY_RETRY_MAX_MS: '2000' },
});
if (publish > 0) await publishFinishedCalls(server, publish);
ready();

if (killAfter === 0) {
  await waitFor(async () => (await server.ringside.outbox.undelivered(1)).length === 0, { timeoutMs: 600_000, intervalMs: 200, what: 'every activity delivered' });
  const counted = await countActivitiesPerCall(server);
  process.send!({ done: { redeliveries, ...counted } });
  await server.stop({ keepData: true });
  process.exit(0);
}
