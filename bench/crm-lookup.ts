/**
 * bench/crm-lookup — caller lookup on a big CRM.
 *
 * Generates N contacts (default 1,000,000) with 3 phone fields each in mixed real-world formats,
 * builds the phone index the way the product does (PhoneNumbers.normalize for every field), loads
 * it into SQLite and PostgreSQL, then times `PhoneIndex.lookupByNumber` for random known numbers
 * (typed in random formats) and unknown ones. Prints one JSON object:
 *   {contacts, p50_ms, p99_ms, lookups_per_s, db_bytes, postgres: {...}}   (top level = SQLite)
 *
 *   npm run bench:crm-lookup [-- --contacts 200000 --lookups 20000 --skip-postgres]
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { PhoneIndex, PhoneNumbers } from '../src/phone/index.ts';
import { newId, nowIso, Store } from '../src/store/index.ts';
import { prng } from '../src/shared/prng.ts';

const { values: args } = parseArgs({
  options: {
    contacts: { type: 'string', default: '1000000' },
    lookups: { type: 'string', default: '20000' },
    'skip-postgres': { type: 'boolean', default: false },
    'database-url': { type: 'string', default: process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
  },
});
const CONTACTS = Number(args.contacts);
const LOOKUPS = Number(args.lookups);
const log = (msg: string) => process.stderr.write(`[crm-lookup] ${msg}\n`);

// ------------------------------------------------------------------ data
const rand = prng(42);
const int = (n: number) => Math.floor(rand() * n);

const AREAS = [201, 202, 203, 205, 206, 207, 208, 212, 213, 214, 215, 216, 217, 224, 248, 267, 281, 301, 303, 305, 310, 312, 313, 314, 404,
  407, 408, 412, 415, 424, 425, 503, 512, 602, 612, 617, 619, 646, 650, 702, 703, 713, 718, 720, 737, 773, 801, 805, 818, 858, 917, 925, 949, 972];

/** A distinct number per index: area × exchange × line covers 54 × 700 × 10,000 numbers. */
function usDigits(k: number): [string, string, string] {
  const area = AREAS[k % AREAS.length]!;
  const rest = Math.floor(k / AREAS.length);
  const exchange = 200 + (rest % 700);
  const line = Math.floor(rest / 700) % 10000;
  return [String(area), String(exchange), String(line).padStart(4, '0')];
}

function formatUs([a, b, c]: [string, string, string], style: number): string {
  switch (style % 9) {
    case 0: return `(${a}) ${b}-${c}`;
    case 1: return `${a}.${b}.${c}`;
    case 2: return `${a}-${b}-${c}`;
    case 3: return `+1 ${a} ${b} ${c}`;
    case 4: return `+1-${a}-${b}-${c}`;
    case 5: return `${a}${b}${c}`;
    case 6: return `1 (${a}) ${b}-${c}`;
    case 7: return `${a} ${b} ${c} x${100 + (style % 900)}`;
    default: return `+1${a}${b}${c}`;
  }
}

function formatIntl(k: number, style: number): string {
  const n = String(k % 10_000_000).padStart(7, '0');
  return style % 2 ? `+49 30 ${n}` : `0049 30 ${n}`;
}

interface IndexRow { record_id: string; field: string; raw: string; e164: string | null; tail: string | null }

// ------------------------------------------------------------------ generate
const numbers = new PhoneNumbers({ defaultRegion: 'US', matchDigits: 9 });
const index = new PhoneIndex(numbers);
const FIELDS = ['work', 'mobile', 'home'] as const;
const contactIds: string[] = new Array(CONTACTS);
const indexRows: IndexRow[] = [];
const known: string[] = [];
let k = 0;
const t0 = performance.now();
for (let i = 0; i < CONTACTS; i++) {
  const id = newId();
  contactIds[i] = id;
  for (const field of FIELDS) {
    const style = int(1000);
    const seq = k++;
    const raw = seq % 10 === 9 ? formatIntl(seq, style) : formatUs(usDigits(seq), style);
    const n = numbers.normalize(raw);
    indexRows.push({ record_id: id, field, raw, e164: n.e164, tail: n.tail });
    if (n.e164 && int(CONTACTS * 3) < LOOKUPS) known.push(raw);
  }
  if (i % 100_000 === 0 && i > 0) log(`generated ${i} contacts`);
}
log(`generated ${CONTACTS} contacts, ${indexRows.length} phone fields in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

/** Half known numbers, re-typed in another format; half unknown (never generated). */
const queries: string[] = [];
for (let i = 0; i < LOOKUPS; i++) {
  if (i % 2 === 0 && known.length > 0) {
    const raw = known[int(known.length)]!;
    const e164 = numbers.normalize(raw).e164!;
    queries.push(e164.startsWith('+1') ? formatUs([e164.slice(2, 5), e164.slice(5, 8), e164.slice(8)], int(9)) : e164);
  } else {
    // Unknown: line numbers ≥ 5000 are only generated after 189M numbers.
    queries.push(formatUs([String(AREAS[int(AREAS.length)]), String(200 + int(700)), String(5000 + int(5000))], int(9)));
  }
}

// ------------------------------------------------------------------ measure
async function measure(store: Store): Promise<{ p50_ms: number; p99_ms: number; lookups_per_s: number; hit_rate: number }> {
  for (let i = 0; i < 500; i++) await index.lookupByNumber(store.db, queries[i % queries.length]!); // warm up
  const times: number[] = [];
  let hits = 0;
  const start = performance.now();
  for (const q of queries) {
    const t = performance.now();
    const found = await index.lookupByNumber(store.db, q);
    times.push(performance.now() - t);
    if (found.length > 0) hits++;
  }
  const total = (performance.now() - start) / 1000;
  times.sort((a, b) => a - b);
  const pct = (p: number) => Number(times[Math.min(times.length - 1, Math.floor(p * times.length))]!.toFixed(3));
  return { p50_ms: pct(0.5), p99_ms: pct(0.99), lookups_per_s: Math.round(queries.length / total), hit_rate: Number((hits / queries.length).toFixed(3)) };
}

async function sqliteRun() {
  const dir = mkdtempSync(path.join(tmpdir(), 'ringside-bench-'));
  try {
    const store = await Store.open({ dataDir: dir });
    await store.migrate();
    await store.close();
    // Bulk load with better-sqlite3 directly (prepared statements, big transactions): the load is
    // not what is measured, the lookups are.
    const db = new SQLite(path.join(dir, 'ringside.db'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = OFF');
    const now = nowIso();
    const insContact = db.prepare(
      `insert into contacts (id, first_name, last_name, phone_work, phone_mobile, phone_home, version, created_at, updated_at) values (?, ?, ?, ?, ?, ?, 1, ?, ?)`,
    );
    const insIndex = db.prepare(`insert into phone_index (record_type, record_id, field, raw, e164, tail) values ('contact', ?, ?, ?, ?, ?)`);
    const t = performance.now();
    const load = db.transaction((from: number, to: number) => {
      for (let i = from; i < to; i++) {
        const rows = indexRows.slice(i * 3, i * 3 + 3);
        insContact.run(contactIds[i], `First${i}`, `Last${i}`, rows[0]!.raw, rows[1]!.raw, rows[2]!.raw, now, now);
        for (const r of rows) insIndex.run(r.record_id, r.field, r.raw, r.e164, r.tail);
      }
    });
    for (let i = 0; i < CONTACTS; i += 50_000) load(i, Math.min(CONTACTS, i + 50_000));
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.exec('analyze');
    db.close();
    log(`sqlite: loaded in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const store2 = await Store.open({ dataDir: dir });
    const figures = await measure(store2);
    await store2.close();
    const dbBytes = statSync(path.join(dir, 'ringside.db')).size;
    return { ...figures, db_bytes: dbBytes };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function postgresRun(url: string) {
  const schema = `rs_bench_${process.pid}`;
  const store = await Store.open({ databaseUrl: url, pgSchema: schema, poolSize: 4 });
  const client = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
  try {
    await store.migrate();
    await client.connect();
    const t = performance.now();
    const now = nowIso();
    for (let i = 0; i < CONTACTS; i += 20_000) {
      const to = Math.min(CONTACTS, i + 20_000);
      const ids = contactIds.slice(i, to);
      const rows = indexRows.slice(i * 3, to * 3);
      await client.query(
        `insert into contacts (id, first_name, last_name, phone_work, phone_mobile, phone_home, version, created_at, updated_at)
         select id, 'First', 'Last', w, m, h, 1, $5, $5 from unnest($1::text[], $2::text[], $3::text[], $4::text[]) as t(id, w, m, h)`,
        [ids, rows.filter((_, j) => j % 3 === 0).map((r) => r.raw), rows.filter((_, j) => j % 3 === 1).map((r) => r.raw), rows.filter((_, j) => j % 3 === 2).map((r) => r.raw), now],
      );
      await client.query(
        `insert into phone_index (record_type, record_id, field, raw, e164, tail)
         select 'contact', a, b, c, d, e from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) as t(a, b, c, d, e)`,
        [rows.map((r) => r.record_id), rows.map((r) => r.field), rows.map((r) => r.raw), rows.map((r) => r.e164), rows.map((r) => r.tail)],
      );
    }
    await client.query('analyze');
    log(`postgres: loaded in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const figures = await measure(store);
    const size = await client.query(`select pg_total_relation_size('contacts') + pg_total_relation_size('phone_index') as bytes`);
    return { ...figures, db_bytes: Number(size.rows[0].bytes) };
  } finally {
    await client.end().catch(() => undefined);
    await store.close();
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`drop schema if exists ${schema} cascade`);
    await admin.end();
  }
}

const sqlite = await sqliteRun();
const postgres = args['skip-postgres'] ? undefined : await postgresRun(args['database-url']!);
console.log(
  JSON.stringify({
    contacts: CONTACTS,
    phone_fields: indexRows.length,
    lookups: LOOKUPS,
    engine: 'sqlite',
    ...sqlite,
    ...(postgres ? { postgres } : {}),
  }),
);
