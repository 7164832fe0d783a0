/**
 * bench/salesforce-budget — what 1,000 logged calls cost in Salesforce API requests.
 *
 * The busy hour of a 50-agent team against the Salesforce stand-in (test/support/salesforce):
 * calls arrive at random (Poisson) over one simulated hour; each rings (caller lookup: the mirror,
 * SOSL for a number it lacks), lasts 10 s to 6 min, and is logged through the durable outbox, which
 * hands the adapter every call that ended within the batch window (SALESFORCE_BATCH_WINDOW_MS,
 * default 2 s) in one request. The mirror polls for changes every SALESFORCE_SYNC_INTERVAL_S (60 s).
 *
 * Mix (defaults): 60 % known callers (a contact, lead or account: one match), 10 % numbers shared
 * by two contacts (the agent picks one), 30 % unknown numbers (200 distinct, so some call again),
 * of which the first call of every tenth number gets Add contact. The org answers 1 % of all data
 * requests with 503 — half of them after doing the work (the answer is lost, the write is not).
 *
 * Every data request the org receives after the initial sync counts (lookups, polls, Add contact,
 * deliveries, retries); the initial sync is reported apart. Prints one JSON object:
 *   {calls, api_calls, api_calls_per_logged_call, lost, duplicated, ...details}
 * Target: api_calls_per_logged_call ≤ 1.0, lost 0, duplicated 0.
 *
 *   npm run bench:salesforce-budget [-- --calls 1000 --hours 1 --window-ms 2000 --fail-rate 0.01 --seed 7]
 */
import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ActivityOutbox, enqueue } from '../src/activity/index.ts';
import { SalesforceCrm } from '../src/crm/salesforce/index.ts';
import type { CallLog, RecordRef } from '../src/crm/port.ts';
import { PhoneNumbers } from '../src/phone/index.ts';
import { prng } from '../src/shared/prng.ts';
import { Store } from '../src/store/index.ts';
import { makeAppKeys, SalesforceStandIn } from '../test/support/salesforce/index.ts';

const { values: args } = parseArgs({
  options: {
    calls: { type: 'string', default: '1000' },
    hours: { type: 'string', default: '1' },
    'window-ms': { type: 'string', default: '2000' },
    'sync-interval-s': { type: 'string', default: '60' },
    'fail-rate': { type: 'string', default: '0.01' },
    seed: { type: 'string', default: '7' },
  },
});
const CALLS = Number(args.calls);
const SPAN_S = Number(args.hours) * 3600;
const WINDOW_S = Number(args['window-ms']) / 1000;
const SYNC_S = Number(args['sync-interval-s']);
const log = (msg: string) => process.stderr.write(`[salesforce-budget] ${msg}\n`);

const rand = prng(Number(args.seed));
const int = (n: number) => Math.floor(rand() * n);
const number = (area: number, i: number) => `+1${area}555${String(i).padStart(4, '0')}`;

const INTEGRATION = 'ringside-integration@acme.example';
const CLIENT_ID = '3MVG9-ringside-bench';
const keys = makeAppKeys();
const org = await SalesforceStandIn.start({ clientId: CLIENT_ID, certificate: keys.certificatePem, usernames: [INTEGRATION], random: prng(Number(args.seed) + 1) });
const agents = Array.from({ length: 50 }, (_, i) => ({ id: `agent-${i}`, email: `agent${i}@acme.example` }));
for (const a of agents) org.addUser(a.email, a.email);

// ------------------------------------------------------------------ the org: 3,000 people to call
const known: string[] = [];
const accounts = Array.from({ length: 200 }, (_, i) => org.seed('Account', { Name: `Account ${i}`, Phone: number(212, i) }, { indexed: true }));
for (let i = 0; i < 200; i++) known.push(number(212, i));
for (let i = 0; i < 2500; i++) {
  // Written every way people write numbers.
  const n = number(415, i);
  const shown = [n, `(415) 555-${n.slice(-4)}`, `415.555.${n.slice(-4)}`, `+1 415 555 ${n.slice(-4)}`][i % 4]!;
  org.seed('Contact', { FirstName: `First${i}`, LastName: `Contact ${i}`, AccountId: accounts[i % accounts.length], Phone: shown }, { indexed: true });
  known.push(n);
}
for (let i = 0; i < 300; i++) {
  org.seed('Lead', { LastName: `Lead ${i}`, Company: `Prospect ${i}`, MobilePhone: number(312, i) }, { indexed: true });
  known.push(number(312, i));
}
const shared: string[] = [];
for (let i = 0; i < 50; i++) {
  // Two people at one switchboard number.
  for (const who of ['A', 'B']) org.seed('Contact', { LastName: `Shared ${i}${who}`, Phone: number(646, i) }, { indexed: true });
  shared.push(number(646, i));
}
const unknown = Array.from({ length: 200 }, (_, i) => number(718, i));

// ------------------------------------------------------------------ Ringside
const phones = new PhoneNumbers({ defaultRegion: 'US', matchDigits: 9 });
const store = await Store.open({ dataDir: ':memory:' });
await store.migrate();
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
const crm = new SalesforceCrm({
  store,
  phones,
  log: quiet,
  clock: () => org.now(),
  userEmail: async (id) => agents.find((a) => a.id === id)?.email,
  userIds: async () => agents.map((a) => a.id),
  settings: {
    loginUrl: org.url,
    clientId: CLIENT_ID,
    username: INTEGRATION,
    privateKeyFile: keys.privateKeyFile,
    apiVersion: '62.0',
    syncIntervalS: SYNC_S,
    apiReservePct: 10,
    userMatch: 'email',
    userMap: {},
    externalIdField: 'Ringside_Call_Id__c',
    batchWindowMs: WINDOW_S * 1000,
  },
});
await crm.start();
await crm.syncNow();
await crm.stop(); // the bench drives the polls itself, on the simulated clock
const initial = org.apiCalls;
const initialRequests = org.requests.length;
log(`initial sync: ${(await crm.health()).sync.synced} records in ${initial} requests`);
org.fail5xxRate = Number(args['fail-rate']);
const outbox = new ActivityOutbox({ store, crm, log: quiet, clock: () => org.now(), pollMs: 3_600_000, baseBackoffMs: 1000, maxBackoffMs: 60_000 });

// ------------------------------------------------------------------ the hour
type Event = { at: number; kind: 'ring' | 'end'; call: number };
interface Call {
  key: string;
  agent: string;
  from: string;
  kind: 'known' | 'multi' | 'unknown';
  startedAt: number;
  durationS: number;
  record: RecordRef | null;
}
const calls: Call[] = [];
const events: Event[] = [];
let t = 0;
const seenUnknown = new Set<string>();
for (let i = 0; i < CALLS; i++) {
  t += -Math.log(1 - rand()) * (SPAN_S / CALLS);
  const r = rand();
  const kind = r < 0.6 ? 'known' : r < 0.7 ? 'multi' : 'unknown';
  const from = kind === 'known' ? known[int(known.length)]! : kind === 'multi' ? shared[int(shared.length)]! : unknown[int(unknown.length)]!;
  const durationS = 10 + int(350);
  calls.push({ key: `call:bench-${String(i).padStart(4, '0')}-${Number(args.seed)}:${agents[i % agents.length]!.id}`, agent: agents[i % agents.length]!.id, from, kind, startedAt: t, durationS, record: null });
  events.push({ at: t, kind: 'ring', call: i }, { at: t + durationS, kind: 'end', call: i });
}
events.sort((a, b) => a.at - b.at);

const t0 = org.now();
let simulated = 0;
let nextPoll = SYNC_S;
let nextFlush = Infinity;
let added = 0;
const lookups = { mirror: 0, sosl: 0 };
/** Moves the org's (and so Ringside's) clock to `s` seconds into the hour, doing what falls due on the way. */
async function advanceTo(s: number): Promise<void> {
  for (;;) {
    const due = Math.min(nextPoll, nextFlush);
    if (due > s) break;
    org.advance(due - simulated);
    simulated = due;
    if (due === nextFlush) {
      await outbox.drain();
      // Rows retried after a failure are due again in a second or two: flush them with the next window.
      nextFlush = (await outbox.undelivered(1)).length > 0 ? simulated + WINDOW_S : Infinity;
    } else {
      await crm.syncNow();
      nextPoll += SYNC_S;
    }
  }
  org.advance(s - simulated);
  simulated = s;
}

const started = performance.now();
for (const e of events) {
  await advanceTo(e.at);
  const c = calls[e.call]!;
  if (e.kind === 'ring') {
    const before = org.apiCalls;
    const matches = await crm.findByPhone(c.from);
    if (org.apiCalls > before) lookups.sosl++;
    else lookups.mirror++;
    c.record = matches[0]?.ref ?? null; // several: the agent picks one
    if (c.kind === 'unknown' && !seenUnknown.has(c.from)) {
      seenUnknown.add(c.from);
      if (unknown.indexOf(c.from) % 10 === 0) {
        const result = await crm.addContact({ firstName: 'New', lastName: `Caller ${c.from.slice(-4)}`, phone: c.from }, { key: `add-contact|${c.key}|${c.from}`, userId: c.agent }).catch(() => null);
        if (result) {
          added++;
          c.record = result.record.ref;
        }
      }
    }
    continue;
  }
  const log: CallLog = {
    key: c.key,
    userId: c.agent,
    direction: 'inbound',
    counterpart: { number: c.from, display: c.from },
    record: c.record,
    startedAt: new Date(t0 + c.startedAt * 1000).toISOString(),
    answeredAt: new Date(t0 + (c.startedAt + 3) * 1000).toISOString(),
    endedAt: new Date(t0 + (c.startedAt + c.durationS) * 1000).toISOString(),
    durationS: c.durationS - 3,
    disposition: 'answered',
    answeredDevice: 'the browser',
    answeredElsewhereBy: null,
    quality: null,
    notes: null,
  };
  await store.db.transaction().execute((trx) => enqueue(trx, [{ key: log.key, userId: log.userId, item: { kind: 'call', log } }], new Date(org.now()).toISOString()));
  // The outbox waits out the batch window from the first call that ends in it.
  if (nextFlush === Infinity) nextFlush = simulated + WINDOW_S;
}
// The hour is over: whatever waits (retries) goes out.
for (let i = 0; i < 100 && (await outbox.undelivered(1)).length > 0; i++) {
  nextFlush = simulated + WINDOW_S;
  await advanceTo(simulated + 60);
}
const elapsedS = (performance.now() - started) / 1000;

// ------------------------------------------------------------------ what arrived
const tasks = org.list('Task');
const perKey = new Map<string, number>();
for (const task of tasks) perKey.set(String(task.CallObject), (perKey.get(String(task.CallObject)) ?? 0) + 1);
const lost = calls.filter((c) => !perKey.has(c.key)).length;
const duplicated = [...perKey.values()].reduce((n, k) => n + (k - 1), 0);
const wrongRecord = calls.filter((c) => {
  const task = tasks.find((x) => x.CallObject === c.key);
  return task && c.record && task.WhoId !== c.record.id && task.WhatId !== c.record.id;
}).length;
const during = org.requests.slice(initialRequests);
const byKind = (test: (path: string, method: string) => boolean) => during.filter((r) => r.api && test(r.path, r.method)).length;
const apiCalls = org.apiCalls - initial;
const result = {
  calls: CALLS,
  api_calls: apiCalls,
  api_calls_per_logged_call: Math.round((apiCalls / CALLS) * 1000) / 1000,
  lost,
  duplicated,
  breakdown: {
    deliveries: byKind((p, m) => m === 'PATCH' && p.includes('/composite/sobjects/Task/')),
    sosl_searches: byKind((p) => p.endsWith('/search/')),
    polls: byKind((p, m) => m === 'POST' && p.endsWith('/composite')),
    user_lookups: byKind((p, m) => m === 'GET' && p.includes('/query/')),
    add_contact: byKind((p, m) => m === 'POST' && /\/sobjects\/Contact\/?$/.test(p)),
    other: 0,
    failed_5xx: during.filter((r) => r.api && r.status >= 500).length + during.filter((r) => r.api && r.status === 0).length,
  },
  mix: { known: calls.filter((c) => c.kind === 'known').length, multi_match: calls.filter((c) => c.kind === 'multi').length, unknown: calls.filter((c) => c.kind === 'unknown').length, contacts_added: added },
  lookups,
  tasks_on_wrong_record: wrongRecord,
  simulated_hours: Number(args.hours),
  batch_window_ms: WINDOW_S * 1000,
  sync_interval_s: SYNC_S,
  fail_rate: Number(args['fail-rate']),
  initial_sync_api_calls: initial,
  elapsed_s: Math.round(elapsedS * 10) / 10,
};
result.breakdown.other = apiCalls - result.breakdown.deliveries - result.breakdown.sosl_searches - result.breakdown.polls - result.breakdown.user_lookups - result.breakdown.add_contact;
if (process.env.BENCH_DEBUG) { const c = new Map<string, number>(); for (const r of during.filter((x) => x.api)) { const k = `${r.method} ${r.path.replace(/\/[0-9A-Za-z]{18}$/, '/:id')} ${r.q?.slice(0, 60) ?? ''} ${r.status}`; c.set(k, (c.get(k) ?? 0) + 1); } log(JSON.stringify([...c].sort((a, b) => b[1] - a[1]), null, 1)); }
console.log(JSON.stringify(result, null, 2));

await outbox.close();
await store.close();
await org.close();
rmSync(keys.dir, { recursive: true, force: true });
