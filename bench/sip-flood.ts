/**
 * bench/sip-flood — what SIP floods cost the server (issue 13, security review #1 and #8).
 *
 * Starts Ringside as `npm start` does (its own process, fresh data directory, demo users, the
 * default per-address rate limit), then for `--seconds` (default 60) sends, each at the rate
 * limit (`--rate`, default 500 requests/s per address = the server's SIP_RATE_LIMIT):
 * - from one blocked source (127.0.0.2, which first gets its guesses for "x" blocked): unique-branch
 *   REGISTERs still guessing "x", each with a 1 KB body;
 * - from `--sources` spoofed addresses (127.0.0.10 on, default 20): half unauthenticated INVITEs
 *   (each answered with one stateless 407), half REGISTERs guessing one of 20 names.
 * Meanwhile, every 5 s, bob calls alice (registered on a plain UDP phone) and the call must be
 * answered. Memory is the server process's RSS, sampled every 200 ms; the end figure is taken
 * `--settle-seconds` (default 10) after the flood stopped.
 *
 * Prints one JSON line (progress on stderr):
 *   {requests, rss_start_mb, rss_peak_mb, rss_end_mb, legit_calls_ok, legit_calls, seconds, sources, rate_per_source}
 *
 *   npm run bench:sip-flood [-- --seconds 60] [--sources 20] [--rate 500] [--settle-seconds 10]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type dgram from 'node:dgram';
import { TestPhone } from '../test/support/sip-phone.ts';
import { anonymousInvite, guessingRegister, udpSocketOn, type FloodTarget } from '../test/security/sip-flood.ts';
import { installCleanup } from './sip-load/processes.ts';
import { startRingside, waitForReady } from './sip-load/ringside.ts';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    sources: { type: 'string', default: '20' },
    rate: { type: 'string', default: '500' },
    'settle-seconds': { type: 'string', default: '10' },
  },
});
const seconds = Number(args.seconds);
const sourceCount = Number(args.sources);
const ratePerSource = Number(args.rate);
const settleSeconds = Number(args['settle-seconds']);
if (![seconds, sourceCount, ratePerSource, settleSeconds].every((n) => Number.isFinite(n) && n >= 0) || sourceCount > 240) {
  throw new Error('--seconds, --sources (at most 240), --rate and --settle-seconds take non-negative numbers');
}

const log = (msg: string) => process.stderr.write(`[sip-flood] ${msg}\n`);
const PASSWORD = 'flood-bench-password';
const DOMAIN = '127.0.0.1';

/** The server process's resident memory (MB), from /proc. */
function rssMb(pid: number): number {
  const kb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return Math.round((kb / 1024) * 10) / 10;
}

async function main(): Promise<void> {
  installCleanup();
  const dir = mkdtempSync(path.join(tmpdir(), 'ringside-sip-flood-'));
  // The demo users with a password of the bench's own; the per-address limit on, as deployed.
  const started = await startRingside(dir, { SIP_RATE_LIMIT: String(ratePerSource), SEED_DEMO: 'true', DEMO_PASSWORD: PASSWORD });
  const server = started.process;
  const sipPort = started.sip.port;
  try {
    await waitForReady(started.httpUrl, 60_000, server);
    const target: FloodTarget = { port: sipPort, domain: DOMAIN, received: () => 0 };
    const sip = { address: '127.0.0.1', port: sipPort };
    const alice = await TestPhone.start({ user: 'alice', password: PASSWORD, domain: DOMAIN, server: sip, answer: 'auto' });
    const bob = await TestPhone.start({ user: 'bob', password: PASSWORD, domain: DOMAIN, server: sip });
    if ((await alice.register(3600)).status !== 200) throw new Error('alice could not register');

    const blocked = await udpSocketOn('127.0.0.2');
    const blockedFrom = { address: '127.0.0.2', port: blocked.address().port };
    for (let i = 0; i < 10; i++) blocked.send(guessingRegister(target, blockedFrom, 'x', -i - 1), sipPort, '127.0.0.1');
    const blockDeadline = Date.now() + 10_000;
    while (blocked.replies < 10 && Date.now() < blockDeadline) await new Promise((r) => setTimeout(r, 20));
    const spoofed = await Promise.all(Array.from({ length: sourceCount }, (_, i) => udpSocketOn(`127.0.0.${10 + i}`)));

    const rssStart = rssMb(server.pid);
    let rssPeak = rssStart;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssMb(server.pid))), 200);
    log(`server RSS ${rssStart} MB; flooding for ${seconds} s: 1 blocked + ${sourceCount} spoofed sources at ${ratePerSource}/s each`);

    // Every 10 ms, each source sends its share of the rate (fractions carried over).
    let requests = 0;
    let carry = 0;
    const send = (socket: dgram.Socket, build: (from: { address: string; port: number }, n: number) => Buffer) => {
      const { address, port } = socket.address();
      socket.send(build({ address, port }, requests++), sipPort, '127.0.0.1');
    };
    const ticker = setInterval(() => {
      carry += ratePerSource / 100;
      const n = Math.floor(carry);
      carry -= n;
      for (let k = 0; k < n; k++) {
        send(blocked, (from, i) => guessingRegister(target, from, 'x', i));
        for (const s of spoofed) send(s, (from, i) => (i % 2 === 0 ? anonymousInvite(target, from, i) : guessingRegister(target, from, `user${i % 20}`, i)));
      }
    }, 10);

    let legitCalls = 0;
    let legitOk = 0;
    const end = Date.now() + seconds * 1000;
    while (Date.now() < end) {
      legitCalls++;
      try {
        const answered = await bob.call('alice');
        if (answered.status === 200) {
          await bob.hangUp();
          legitOk++;
        } else log(`legitimate call: ${answered.status}`);
      } catch (err) {
        log(`legitimate call failed: ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, Math.min(5_000, Math.max(0, end - Date.now()))));
    }
    clearInterval(ticker);
    log(`flood over (${requests} requests); settling for ${settleSeconds} s`);
    await new Promise((r) => setTimeout(r, settleSeconds * 1000));
    clearInterval(sampler);
    const rssEnd = rssMb(server.pid);
    rssPeak = Math.max(rssPeak, rssEnd);
    for (const s of [blocked, ...spoofed]) s.close();
    await Promise.all([alice.close(), bob.close()]);
    process.stdout.write(
      `${JSON.stringify({ requests, rss_start_mb: rssStart, rss_peak_mb: rssPeak, rss_end_mb: rssEnd, legit_calls_ok: legitOk, legit_calls: legitCalls, seconds, sources: sourceCount + 1, rate_per_source: ratePerSource })}\n`,
    );
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
