/**
 * bench/sip-registrations — many browsers registered at once.
 *
 * Starts Ringside as its own process (SQLite, a temporary data directory), opens N WebSocket
 * connections (default 10,000, subprotocol `sip`, as JsSIP does) from this process, registers each
 * with digest authentication as one of N/10 users, then re-registers them all as fast as the
 * server takes it. Prints one JSON line:
 *   {registrations, rss_before_mb, rss_after_mb, bytes_per_registration, register_per_s, reregister_per_s, failures}
 * Memory per registration is the server's resident memory growth divided by N (target < 20 KB).
 *
 *   npm run bench:sip-registrations [-- --count 10000 --concurrency 200]
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { SipRequest, answerChallenge, digestHa1, newBranch, newTag, parseMessage, parseUri, type SipResponse } from '../src/sip/index.ts';
import { freePort, startProcess } from '../test/support/process.ts';
import { waitFor } from '../test/support/wait.ts';

const { values: args } = parseArgs({
  options: { count: { type: 'string', default: '10000' }, concurrency: { type: 'string', default: '200' } },
});
const COUNT = Number(args.count);
const CONCURRENCY = Number(args.concurrency);
const PER_USER = 10;
const log = (m: string) => process.stderr.write(`[sip-registrations] ${m}\n`);

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

class Client {
  private pending = new Map<string, (r: SipResponse) => void>();
  private cseq = 0;
  private challenge: string | undefined;
  private nc = 0;
  private readonly callId = `${newTag()}@bench`;
  private readonly tag = newTag();
  private readonly host = `${newTag()}.invalid`;

  constructor(
    readonly ws: WebSocket,
    readonly user: string,
  ) {
    ws.on('message', (data) => {
      try {
        const m = parseMessage(Buffer.from(data as Buffer));
        if (!m.isRequest && m.status >= 200) this.pending.get(`${m.cseq.seq}`)?.(m);
      } catch {
        // ignore
      }
    });
  }

  private send(authorization?: string): Promise<SipResponse> {
    const r = new SipRequest('REGISTER', parseUri('sip:127.0.0.1'));
    const seq = ++this.cseq;
    r.setHeader('Via', `SIP/2.0/WS ${this.host};branch=${newBranch()}`);
    r.setHeader('From', `<sip:${this.user}@127.0.0.1>;tag=${this.tag}`);
    r.setHeader('To', `<sip:${this.user}@127.0.0.1>`);
    r.setHeader('Call-ID', this.callId);
    r.setHeader('CSeq', `${seq} REGISTER`);
    r.setHeader('Contact', `<sip:${this.user}@${this.host};transport=ws>;+sip.instance="<urn:uuid:${this.callId}>";reg-id=1`);
    r.setHeader('Expires', '600');
    r.setHeader('Max-Forwards', '70');
    if (authorization) r.setHeader('Authorization', authorization);
    return new Promise((resolve) => {
      this.pending.set(String(seq), (res) => {
        this.pending.delete(String(seq));
        resolve(res);
      });
      this.ws.send(r.toString());
    });
  }

  /** REGISTER, answering the challenge; later calls reuse the nonce with a higher nc (one round trip). */
  async register(): Promise<boolean> {
    const auth = () =>
      answerChallenge(this.challenge!, { method: 'REGISTER', uri: 'sip:127.0.0.1' }, { username: this.user, password: 'ringside-demo' }, { nc: ++this.nc });
    let response = await this.send(this.challenge ? auth() : undefined);
    if (response.status === 401) {
      this.challenge = response.header('WWW-Authenticate');
      this.nc = 0;
      response = await this.send(auth());
    }
    return response.status === 200;
  }
}

async function pool<T>(items: T[], concurrency: number, work: (item: T) => Promise<boolean>): Promise<{ seconds: number; failures: number }> {
  let index = 0;
  let failures = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (index < items.length) {
        const item = items[index++]!;
        if (!(await work(item).catch(() => false))) failures++;
      }
    }),
  );
  return { seconds: (performance.now() - started) / 1000, failures };
}

const dataDir = mkdtempSync(path.join(tmpdir(), 'ringside-bench-reg-'));
const port = await freePort();
const server = startProcess([], {
  PORT: String(port),
  DATA_DIR: dataDir,
  LOG_LEVEL: 'warn',
  SIP_DOMAIN: '127.0.0.1',
  SIP_RATE_LIMIT: '0',
  SIP_MAX_CONNECTIONS_PER_ADDRESS: String(COUNT + 100),
});
const clients: Client[] = [];
try {
  const base = `http://127.0.0.1:${port}`;
  await waitFor(() => fetch(`${base}/healthz`).then((r) => r.ok, () => false), { timeoutMs: 60_000, intervalMs: 200, what: 'server start' });
  // Users: N/10 of them, written straight into the database (creating them through the API would
  // spend minutes in password hashing); each may hold 10 devices, the default.
  const { default: SQLite } = await import('better-sqlite3');
  const db = new SQLite(path.join(dataDir, 'ringside.db'));
  const template = db.prepare(`select password_hash from users where email = 'alice@example.com'`).get() as { password_hash: string };
  const insert = db.prepare(
    `insert into users (id, email, name, role, password_hash, extension, sip_username, sip_realm, sip_ha1_md5, sip_ha1_sha256, time_zone, disabled, version, created_at, updated_at)
     values (?, ?, ?, 'user', ?, null, ?, '127.0.0.1', ?, ?, 'UTC', 0, 1, ?, ?)`,
  );
  const identity = db.prepare(`insert into sip_identities (name, user_id) values (?, ?)`);
  const now = new Date().toISOString();
  db.transaction(() => {
    for (let u = 0; u < Math.ceil(COUNT / PER_USER); u++) {
      const id = randomUUID();
      const name = `load${u}`;
      insert.run(id, `${name}@example.com`, `Load ${u}`, template.password_hash, name, digestHa1('MD5', name, '127.0.0.1', 'ringside-demo'), digestHa1('SHA-256', name, '127.0.0.1', 'ringside-demo'), now, now);
      identity.run(name, id);
    }
  })();
  db.close();

  const pid = server.child.pid!;
  const rssBefore = rssOf(pid);
  log(`server rss before: ${(rssBefore / 1048576).toFixed(1)} MB; connecting ${COUNT} WebSockets`);
  for (let i = 0; i < COUNT; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/sip`, ['sip'], { localAddress: `127.0.0.${1 + (i % 50)}` });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    clients.push(new Client(ws, `load${Math.floor(i / PER_USER)}`));
  }
  log('registering');
  const first = await pool(clients, CONCURRENCY, (c) => c.register());
  log(`registered in ${first.seconds.toFixed(1)} s (${first.failures} failures); re-registering`);
  const again = await pool(clients, CONCURRENCY, (c) => c.register());
  // Let the server settle (GC) before reading its memory.
  await new Promise((r) => setTimeout(r, 2000));
  const rssAfter = rssOf(pid);
  console.log(
    JSON.stringify({
      registrations: COUNT,
      rss_before_mb: Number((rssBefore / 1048576).toFixed(1)),
      rss_after_mb: Number((rssAfter / 1048576).toFixed(1)),
      bytes_per_registration: Math.round((rssAfter - rssBefore) / COUNT),
      register_per_s: Math.round(COUNT / first.seconds),
      reregister_per_s: Math.round(COUNT / again.seconds),
      failures: first.failures + again.failures,
    }),
  );
} finally {
  for (const c of clients) c.ws.terminate();
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
