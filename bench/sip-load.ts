/**
 * bench/sip-load — SIP call load on the app server (issue 4), with SIPp as the load tool and
 * Kamailio 5.6.3 as the anchor.
 *
 * Scenario, per call: the caller (SIPp UAC, user `bob`) sends an INVITE for `alice`, gets a digest
 * challenge, re-sends it with credentials; the server forks it to alice's 2 registered devices
 * (two SIPp UAS: one rings and answers at once, the other rings and expects a CANCEL); 200 → ACK,
 * 1 s hold, BYE → 200. Steps of increasing call rate (default 100 … 3000 calls/s, 10 s each). A
 * step passes with < 1 % failed calls and ≥ 95 % of the offered rate achieved; the ramp stops at
 * the first failing step (--keep-going runs them all).
 *
 * Per step: failed calls, achieved rate, setup time p50/p99 (first INVITE sent → 200 received, the
 * 407 round trip included; also from the authenticated INVITE), CPU of the server's process tree
 * (cores: CPU-seconds per second, 2 on this machine) and its peak memory (MiB, PSS summed over the
 * tree so Kamailio's shared memory is not counted once per worker), and the CPU SIPp itself used.
 *
 * Prints one JSON line (progress on stderr):
 *   {cps_max_at_1pct_failure, p50_setup_ms, p99_setup_ms, cpu, rss, steps:[…],
 *    kamailio:{cps_max_at_1pct_failure, p50_setup_ms, p99_setup_ms, cpu, rss, steps}, ratio_vs_kamailio}
 * top level = Ringside; with --target kamailio the Kamailio figures are the top level.
 * p50/p99/cpu/rss are those of the highest passing step.
 *
 *   npm run bench:sip-load [-- --target kamailio|ringside|both] [--rates 100,250,500]
 *     [--step-seconds 10] [--sip HOST:PORT [--pid PID] [--ringside-url URL]] [--callee alice] [--caller bob]
 *     [--password ringside-demo] [--domain 127.0.0.1] [--kamailio-children 4] [--keep-going] [--keep-files]
 *
 * --sip points the Ringside side at an already-running server instead of starting one (its CPU
 * and memory are measured only with --pid; --ringside-url makes the benchmark wait for its /readyz). Needs `sipp` (Debian sip-tester); Kamailio is
 * installed with apt-get when missing and running as root.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ensureKamailio, startKamailio } from './sip-load/kamailio.ts';
import { installCleanup, type Spawned } from './sip-load/processes.ts';
import { machineBusySeconds, TreeMonitor } from './sip-load/procstat.ts';
import { register, waitForSipServer, type Registration } from './sip-load/register.ts';
import { startRingside, waitForReady } from './sip-load/ringside.ts';
import {
  freeUdpPort,
  round,
  runUacStep,
  startUas,
  uasCounters,
  UAS_ANSWER_SCENARIO,
  UAS_RING_OR_CANCEL_SCENARIO,
  type Uas,
  type UacStepResult,
} from './sip-load/sipp.ts';

const { values: args } = parseArgs({
  options: {
    target: { type: 'string', default: 'both' },
    rates: { type: 'string', default: '100,250,500,750,1000,1500,2000,2500,3000' },
    'step-seconds': { type: 'string', default: '10' },
    sip: { type: 'string' },
    'ringside-url': { type: 'string' },
    pid: { type: 'string' },
    callee: { type: 'string', default: 'alice' },
    caller: { type: 'string', default: 'bob' },
    password: { type: 'string', default: 'ringside-demo' },
    domain: { type: 'string', default: '127.0.0.1' },
    'kamailio-children': { type: 'string', default: '4' },
    'keep-going': { type: 'boolean', default: false },
    'keep-files': { type: 'boolean', default: false },
  },
});

const log = (msg: string) => process.stderr.write(`[sip-load] ${msg}\n`);
const MAX_FAILED_PCT = 1;
const MIN_ACHIEVED_FRACTION = 0.95;

const target = args.target;
if (target !== 'kamailio' && target !== 'ringside' && target !== 'both') {
  throw new Error(`--target must be kamailio, ringside or both (got ${target})`);
}
const rates = args.rates.split(',').map((r) => Number(r.trim()));
if (rates.some((r) => !Number.isFinite(r) || r <= 0)) throw new Error(`--rates must be positive numbers (got ${args.rates})`);
const stepSeconds = Number(args['step-seconds']);

interface Step extends UacStepResult {
  passed: boolean;
  /** Server process tree, cores (CPU-seconds per second) over the step. */
  cpu: number | null;
  /** Server process tree, peak PSS in MiB during the step. */
  rss: number | null;
  /** The SIPp caller and both devices together, cores. */
  sipp_cpu: number;
  /** Calls the two devices failed in this step (e.g. a CANCEL that never came). */
  uas_failed: number;
  /**
   * Cores busy with anything else on the machine meanwhile (all busy cores minus server, SIPp and
   * this script): above ~0.2 the step competed with other work and its figures are low.
   */
  other_cpu: number;
}

interface Figures {
  cps_max_at_1pct_failure: number;
  p50_setup_ms: number | null;
  p99_setup_ms: number | null;
  cpu: number | null;
  rss: number | null;
  steps: Step[];
}

/** A SIP server to load: where it listens and, when we can measure it, its process. */
interface ServerUnderTest {
  name: string;
  sip: { host: string; port: number };
  pid: number | undefined;
  /** Called before every step: the step fails fast if the server died. */
  alive(): boolean;
  stop(): Promise<void>;
}

async function runRamp(server: ServerUnderTest, workDir: string): Promise<Figures> {
  log(`${server.name}: SIP at ${server.sip.host}:${server.sip.port}`);
  await waitForSipServer(server.sip, 30_000);

  // The callee's two devices, registered with digest auth.
  const answering = await startUas(`${server.name} device 1 (answers)`, UAS_ANSWER_SCENARIO, path.join(workDir, 'uas-answer'), args.callee);
  const ringing = await startUas(`${server.name} device 2 (rings)`, UAS_RING_OR_CANCEL_SCENARIO, path.join(workDir, 'uas-ring'), args.callee);
  const devices: Uas[] = [answering, ringing];
  const registrations: Registration[] = [];
  try {
    for (const device of devices) {
      registrations.push(
        await register({
          server: server.sip,
          user: args.callee,
          password: args.password,
          domain: args.domain,
          contact: { host: '127.0.0.1', port: device.ports.sip },
          expires: 3600,
          onRefreshError: (error) => log(`${server.name}: re-registration failed: ${error.message}`),
        }),
      );
    }
    log(`${server.name}: ${args.callee} registered from 127.0.0.1:${answering.ports.sip} and 127.0.0.1:${ringing.ports.sip}`);

    const steps: Step[] = [];
    for (const rate of rates) {
      if (!server.alive()) {
        log(`${server.name}: server process is gone; stopping the ramp`);
        break;
      }
      const step = await runStep(server, devices, rate, workDir);
      steps.push(step);
      log(
        `${server.name} ${rate}/s: ${step.passed ? 'pass' : 'FAIL'} — achieved ${step.achieved_cps}/s, failed ${step.failed}/${step.calls} ` +
          `(${step.failed_pct} %), setup p50 ${step.p50_setup_ms} ms p99 ${step.p99_setup_ms} ms, ` +
          `server cpu ${step.cpu ?? '?'} cores rss ${step.rss ?? '?'} MiB, sipp cpu ${step.sipp_cpu} cores` +
          (step.other_cpu > 0.2 ? `, WARNING: other processes used ${step.other_cpu} cores meanwhile` : '') +
          (step.first_error ? `; first error: ${step.first_error}` : ''),
      );
      if (!step.passed && !args['keep-going']) break;
    }

    const best = [...steps].filter((s) => s.passed).sort((a, b) => b.offered_cps - a.offered_cps)[0];
    return {
      cps_max_at_1pct_failure: best?.offered_cps ?? 0,
      p50_setup_ms: best?.p50_setup_ms ?? null,
      p99_setup_ms: best?.p99_setup_ms ?? null,
      cpu: best?.cpu ?? null,
      rss: best?.rss ?? null,
      steps,
    };
  } finally {
    for (const r of registrations) r.close();
    await Promise.all(devices.map((d) => d.process.stop()));
  }
}

async function runStep(server: ServerUnderTest, devices: Uas[], rate: number, workDir: string): Promise<Step> {
  const before = devices.map(uasCounters);
  const serverMonitor = server.pid !== undefined ? new TreeMonitor(server.pid) : undefined;
  const sippMonitors = devices.map((d) => new TreeMonitor(d.process.pid));
  serverMonitor?.start();
  for (const m of sippMonitors) m.start();
  const machineBefore = machineBusySeconds();
  const ownBefore = process.cpuUsage();
  const startedAt = performance.now();
  let uacMonitor: TreeMonitor | undefined;
  const result = await runUacStep(
    {
      server: server.sip,
      rate,
      seconds: stepSeconds,
      callee: args.callee,
      caller: args.caller,
      password: args.password,
      domain: args.domain,
      dir: path.join(workDir, `step-${rate}`),
    },
    (uac) => {
      uacMonitor = new TreeMonitor(uac.pid);
      uacMonitor.start();
    },
  );
  const serverUsage = serverMonitor?.stop();
  const sippCpu = [...sippMonitors, ...(uacMonitor ? [uacMonitor] : [])].reduce((sum, m) => sum + m.stop().cpuCores, 0);
  const seconds = (performance.now() - startedAt) / 1000;
  const own = process.cpuUsage(ownBefore);
  const machineCores = (machineBusySeconds() - machineBefore) / seconds;
  const otherCpu = Math.max(0, machineCores - (serverUsage?.cpuCores ?? 0) - sippCpu - (own.user + own.system) / 1e6 / seconds);

  // Let the devices finish this step's calls (their 4 s timewait included) before the next step,
  // so one step's tail is not measured as the next one's load. A branch the server never
  // cancelled stays open on the ringing device for ~40 s: stop waiting once nothing changes.
  await waitForDevicesToSettle(devices);
  const after = devices.map(uasCounters);
  const uasFailed = after.reduce((sum, a, i) => sum + a.failed - before[i]!.failed, 0);

  const passed = result.failed_pct < MAX_FAILED_PCT && result.achieved_cps >= MIN_ACHIEVED_FRACTION * rate;
  return {
    ...result,
    passed,
    cpu: serverUsage ? round(serverUsage.cpuCores, 2) : null,
    rss: serverUsage ? round(serverUsage.peakPssMiB, 1) : null,
    sipp_cpu: round(sippCpu, 2),
    uas_failed: uasFailed,
    other_cpu: round(otherCpu, 2),
  };
}

/** Waits until the devices have no calls open, or their open calls stop going down (max 20 s). */
async function waitForDevicesToSettle(devices: Uas[]): Promise<void> {
  const deadline = Date.now() + 20_000;
  let lowest = Infinity;
  let lastProgress = Date.now();
  for (;;) {
    const open = devices.reduce((sum, d) => sum + uasCounters(d).current, 0);
    if (open === 0 || Date.now() > deadline) return;
    if (open < lowest) {
      lowest = open;
      lastProgress = Date.now();
    } else if (Date.now() - lastProgress > 3_000) {
      return;
    }
    // SIPp rewrites its statistics file once a second: there is nothing finer to wait on.
    await new Promise((r) => setTimeout(r, 500));
  }
}

// ------------------------------------------------------------------ servers under test

async function kamailioServer(workDir: string): Promise<ServerUnderTest> {
  const binary = ensureKamailio(log);
  const port = await freeUdpPort();
  const users = { [args.callee]: args.password, [args.caller]: args.password };
  const kamailio = startKamailio(binary, workDir, { port, users, children: Number(args['kamailio-children']) });
  return processServer('kamailio', kamailio, { host: '127.0.0.1', port });
}

async function ringsideServer(workDir: string): Promise<ServerUnderTest> {
  if (args.sip) {
    // An already-running server: we neither start nor stop it.
    const [host, port] = splitHostPort(args.sip);
    if (args['ringside-url']) await waitForReady(args['ringside-url'], 30_000);
    return {
      name: 'ringside',
      sip: { host, port },
      pid: args.pid ? Number(args.pid) : undefined,
      alive: () => true,
      stop: async () => undefined,
    };
  }
  const ringside = await startRingside(workDir);
  await waitForReady(ringside.httpUrl, 60_000, ringside.process);
  return processServer('ringside', ringside.process, ringside.sip);
}

function processServer(name: string, p: Spawned, sip: { host: string; port: number }): ServerUnderTest {
  return {
    name,
    sip,
    pid: p.pid,
    alive: () => !p.hasExited(),
    async stop() {
      await p.stop();
    },
  };
}

function splitHostPort(value: string): [string, number] {
  const m = /^(.+):(\d+)$/.exec(value);
  if (!m) throw new Error(`--sip must be HOST:PORT (got ${value})`);
  if (m[1] !== '127.0.0.1' && m[1] !== 'localhost') throw new Error('--sip must be on this machine (127.0.0.1): the benchmark sends load to loopback only');
  return [m[1] === 'localhost' ? '127.0.0.1' : m[1]!, Number(m[2])];
}

async function measure(name: 'kamailio' | 'ringside', root: string): Promise<Figures> {
  const workDir = path.join(root, name);
  const server = name === 'kamailio' ? await kamailioServer(workDir) : await ringsideServer(workDir);
  try {
    return await runRamp(server, workDir);
  } finally {
    await server.stop();
  }
}

function summary(f: Figures) {
  return { cps_max_at_1pct_failure: f.cps_max_at_1pct_failure, p50_setup_ms: f.p50_setup_ms, p99_setup_ms: f.p99_setup_ms, cpu: f.cpu, rss: f.rss };
}

async function main(): Promise<void> {
  installCleanup();
  try {
    execFileSync('sipp', ['-v'], { stdio: 'ignore' });
  } catch (error) {
    // `sipp -v` exits non-zero even when present; only a missing binary is fatal.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('sipp is not installed: apt-get install sip-tester (or bash scripts/install-test-deps.sh as root)');
  }
  const root = mkdtempSync(path.join(tmpdir(), 'sip-load-'));
  log(`work files in ${root}; rates ${rates.join(', ')} calls/s, ${stepSeconds} s per step`);
  try {
    const kamailio = target !== 'ringside' ? await measure('kamailio', root) : undefined;
    const ringside = target !== 'kamailio' ? await measure('ringside', root) : undefined;
    let output: Record<string, unknown>;
    if (ringside) {
      output = {
        ...summary(ringside),
        steps: ringside.steps,
        ...(kamailio ? { kamailio: { ...summary(kamailio), steps: kamailio.steps } } : {}),
        ratio_vs_kamailio: kamailio && kamailio.cps_max_at_1pct_failure > 0 ? round(ringside.cps_max_at_1pct_failure / kamailio.cps_max_at_1pct_failure, 3) : null,
      };
    } else {
      output = { ...summary(kamailio!), steps: kamailio!.steps };
    }
    output.units = { cpu: 'cores (CPU-seconds per second of the server process tree)', rss: 'MiB (peak PSS summed over the server process tree)', setup: 'ms, first INVITE sent to 200 received, 407 round trip included' };
    process.stdout.write(`${JSON.stringify(output)}\n`);
  } finally {
    if (args['keep-files']) log(`kept ${root}`);
    else rmSync(root, { recursive: true, force: true });
  }
}

await main();
