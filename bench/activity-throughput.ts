/**
 * bench/activity-throughput — finished calls to CRM activities through the durable outbox.
 *
 * Starts Ringside (SQLite in a temporary directory), publishes N finished calls on the app
 * server's event bus (started, answered, ended — what the B2BUA publishes; SIP itself is measured
 * by bench/sip-load) and waits until every activity is in the built-in CRM. Two kinds of failure
 * are injected into the CRM port:
 * - before the write (`--fail-rate`, 1 %): the CRM refuses, as in an outage; nothing is written;
 * - after the write (`--lost-answer-rate`, 1 %): the CRM wrote the activity but its answer never
 *   came back (a timeout, a dropped connection), so the outbox does not mark the row delivered and
 *   sends it again. This is where a duplicate could occur.
 * Then the crash check: a child process (bench/activity-throughput/delivery-process.ts) delivers
 * `--crash-calls` calls and is SIGKILLed `--kills` times, each time right after a CRM write and
 * before the outbox marks it, then restarted on the same data directory.
 *
 * A duplicate is a call with more than one activity in the CRM, counted by what the activities
 * show (each bench call carries its own caller name), not by the unique key column. The design
 * says there are none because the CRM checks the idempotency key (call id + user): the redelivery
 * counts show that check being exercised, the duplicate counts what came of it.
 *
 * Prints one JSON line:
 *   {calls, activities_expected, delivered, lost, duplicated, activities_per_s, failures_injected,
 *    retries, failures_before_write, failures_after_write, redeliveries, calls_with_duplicates,
 *    crash: {calls, kills, redeliveries, delivered, lost, duplicated, calls_with_duplicates}}
 * duplicated = activities beyond one per call; failures_injected = both kinds together;
 * redeliveries = call logs the CRM was sent again after it had written them.
 *
 *   npm run bench:activity-throughput [-- --calls 10000 --fail-rate 0.01 --lost-answer-rate 0.01 --crash-calls 300 --kills 3]
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { CallLog } from '../src/crm/index.ts';
import { startServer } from '../test/support/server.ts';
import { waitFor } from '../test/support/wait.ts';
import { countActivitiesPerCall, publishFinishedCalls, type ActivityCount } from './activity-throughput/calls.ts';

const { values: args } = parseArgs({
  options: {
    calls: { type: 'string', default: '10000' },
    'fail-rate': { type: 'string', default: '0.01' },
    'lost-answer-rate': { type: 'string', default: '0.01' },
    'crash-calls': { type: 'string', default: '300' },
    kills: { type: 'string', default: '3' },
  },
});
const CALLS = Number(args.calls);
const FAIL_RATE = Number(args['fail-rate']);
const LOST_ANSWER_RATE = Number(args['lost-answer-rate']);
const CRASH_CALLS = Number(args['crash-calls']);
const KILLS = Number(args.kills);
/** The lease a killed process's claimed rows keep (src/activity/outbox.ts), plus a margin. */
const LEASE_MS = 30_000 + 5_000;
const log = (m: string) => process.stderr.write(`[activity-throughput] ${m}\n`);

/** In one process: throughput, with failures injected before and after the CRM write. */
async function throughput(): Promise<Record<string, number>> {
  const server = await startServer({ env: { ACTIVITY_RETRY_BASE_MS: '100', ACTIVITY_RETRY_MAX_MS: '2000' } });
  try {
    const { crm, store } = server.ringside;
    let beforeWrite = 0;
    let afterWrite = 0;
    let redeliveries = 0;
    crm.failures = { shouldFail: () => Math.random() < FAIL_RATE && ++beforeWrite > 0 };
    const written = new Set<string>();
    const logCall = crm.logCall.bind(crm);
    crm.logCall = async (callLog: CallLog) => {
      if (written.has(callLog.key)) redeliveries++;
      const result = await logCall(callLog);
      written.add(callLog.key);
      if (Math.random() < LOST_ANSWER_RATE) {
        afterWrite++;
        throw new Error('the CRM wrote the activity but its answer was lost (injected failure)');
      }
      return result;
    };
    log(`publishing ${CALLS} finished calls`);
    const started = performance.now();
    await publishFinishedCalls(server, CALLS);
    await waitFor(async () => (await server.ringside.outbox.undelivered(1)).length === 0, { timeoutMs: 600_000, intervalMs: 200, what: 'every activity delivered' });
    const seconds = (performance.now() - started) / 1000;
    const rows = await store.db.selectFrom('activities').select(['idempotency_key']).where('kind', '=', 'call').where('idempotency_key', 'like', 'call:%').execute();
    const delivered = new Set(rows.map((r) => r.idempotency_key!)).size;
    const counted = await countActivitiesPerCall(server);
    return {
      calls: CALLS,
      activities_expected: CALLS,
      delivered,
      lost: CALLS - delivered,
      duplicated: counted.extraActivities,
      activities_per_s: Math.round(CALLS / seconds),
      failures_injected: beforeWrite + afterWrite,
      retries: server.ringside.outbox.stats.retried,
      failures_before_write: beforeWrite,
      failures_after_write: afterWrite,
      redeliveries,
      calls_with_duplicates: counted.callsWithDuplicates,
    };
  } finally {
    await server.stop();
  }
}

type ChildMessage = { written: string; redeliveries: number } | { done: { redeliveries: number } & ActivityCount };

/** One life of the delivery child; resolves with its message once it was killed (or finished). */
async function life(dataDir: string, n: number, killAfter: number): Promise<ChildMessage> {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const child = fork(path.join(here, 'activity-throughput', 'delivery-process.ts'), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    env: {
      ...process.env,
      BENCH_DATA_DIR: dataDir,
      BENCH_PUBLISH: String(n === 0 ? CRASH_CALLS : 0),
      BENCH_KILL_AFTER: String(killAfter),
      BENCH_CLOCK_OFFSET_MS: String(n * LEASE_MS),
    },
  });
  const exited = once(child, 'exit');
  const message = await Promise.race([
    once(child, 'message').then(([m]) => m as ChildMessage),
    exited.then(([code, signal]) => {
      throw new Error(`the delivery child exited (${signal ?? code}) before it reported`);
    }),
  ]);
  if ('written' in message) child.kill('SIGKILL');
  await exited;
  return message;
}

/** Kills the delivering process between a CRM write and its mark, restarts it, counts the activities. */
async function crashCheck(): Promise<Record<string, number>> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'ringside-bench-crash-'));
  try {
    // Each life writes a few, then dies; the last delivers the rest.
    const writesPerLife = Math.max(1, Math.floor(CRASH_CALLS / (KILLS + 2)));
    let redeliveries = 0;
    for (let n = 0; ; n++) {
      const killing = n < KILLS;
      log(`crash check, life ${n + 1}: ${killing ? `SIGKILL after ${writesPerLife} CRM writes` : 'delivering the rest'}`);
      const message = await life(dataDir, n, killing ? writesPerLife : 0);
      redeliveries += 'written' in message ? message.redeliveries : message.done.redeliveries;
      if ('done' in message) {
        return {
          calls: CRASH_CALLS,
          kills: n,
          redeliveries,
          delivered: message.done.callsLogged,
          lost: CRASH_CALLS - message.done.callsLogged,
          duplicated: message.done.extraActivities,
          calls_with_duplicates: message.done.callsWithDuplicates,
        };
      }
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const figures = await throughput();
const crash = KILLS > 0 && CRASH_CALLS > 0 ? await crashCheck() : null;
console.log(JSON.stringify({ ...figures, crash }));
