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
 *     [--password ringside-demo] [--domain 127.0.0.1] [--kamailio-children 2] [--keep-going] [--keep-files] [--trace]
 *
 * --sip points the Ringside side at an already-running server instead of starting one (its CPU
 * and memory are measured only with --pid; --ringside-url makes the benchmark wait for its /readyz). Needs `sipp` (Debian sip-tester); Kamailio is
 * installed with apt-get when missing and running as root. With --target both or kamailio, a
 * Kamailio that is missing and cannot be installed ends the run before anything is measured (one
 * line on stderr, exit status 2); --target ringside measures Ringside alone (`"kamailio": null`).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ensureKamailio, MissingDependencyError, startKamailio } from './sip-load/kamailio.ts';
import { installCleanup, type Spawned } from './sip-load/processes.ts';
import { machineBusySeconds, TreeMonitor, udpReceiveBufferErrors } from './sip-load/procstat.ts';
import { waitForSipServer } from './sip-load/sip-probe.ts';
import { startRingside, waitForReady } from './sip-load/ringside.ts';
import {
  freeUdpPort,
  round,
  runUacStep,
  startDevice,
  deviceErrors,
  UAS_ANSWER_SCENARIO,
  UAS_RING_OR_CANCEL_SCENARIO,
  setTraceMessages,
  type Uas,
  type UacStepResult,
} from './sip-load/sipp.ts';

const { values: args } = parseArgs({
  options: {
    target: { type: 'string', default: 'both' },
    rates: { type: 'string', default: '100,250,500,750,1000,1500,2000,2250,2500,2750,3000' },
    'step-seconds': { type: 'string', default: '10' },
    sip: { type: 'string' },
    'ringside-url': { type: 'string' },
    pid: { type: 'string' },
    callee: { type: 'string', default: 'alice' },
    caller: { type: 'string', default: 'bob' },
    password: { type: 'string', default: 'ringside-demo' },
    domain: { type: 'string', default: '127.0.0.1' },
    // One UDP worker per core: with 4 or 8 it did no better here, and its tm race (a branch left
    // uncancelled when a 1xx and the other branch's 2xx are handled at once) gets more frequent.
    'kamailio-children': { type: 'string', default: '2' },
    'keep-going': { type: 'boolean', default: false },
    'keep-files': { type: 'boolean', default: false },
    trace: { type: 'boolean', default: false },
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
// Debugging a server: every SIPp logs each message (slows SIPp down; use low rates and --keep-files).
setTraceMessages(args.trace);

interface Step extends UacStepResult {
  passed: boolean;
  /** Server process tree, cores (CPU-seconds per second) over the step. */
  cpu: number | null;
  /** Server process tree, peak PSS in MiB during the step. */
  rss: number | null;
  /** The SIPp caller and both devices together, cores. */
  sipp_cpu: number;
  /** Calls the two devices aborted in this step (e.g. no ACK for an answer nobody wanted). */
  device_failed: number;
  /** Calls whose second branch the server never cancelled (the ringing device answered after 5 s). */
  uncancelled_branches: number;
  /**
   * Cores busy with anything else on the machine meanwhile (all busy cores minus server, SIPp and
   * this script): above ~0.2 the step competed with other work and its figures are low.
   */
  other_cpu: number;
  /** Cores busy on the whole machine during the step (2 = saturated). */
  machine_cpu: number;
  /** UDP datagrams dropped by full socket receive buffers on the machine during the step. */
  udp_drops: number;
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

  // The callee's two devices, each registering itself with digest auth.
  const device = { server: server.sip, user: args.callee, password: args.password, domain: args.domain };
  const devices: Uas[] = [];
  try {
    devices.push(await startDevice(`${server.name} device 1 (answers)`, UAS_ANSWER_SCENARIO, path.join(workDir, 'device-answer'), device));
    devices.push(await startDevice(`${server.name} device 2 (rings)`, UAS_RING_OR_CANCEL_SCENARIO, path.join(workDir, 'device-ring'), device));
    log(`${server.name}: ${args.callee} registered from ${devices.map((d) => `127.0.0.1:${d.ports.sip}`).join(' and ')}`);

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
          `, machine ${step.machine_cpu} cores busy` +
          (step.udp_drops > 0 ? `, ${step.udp_drops} UDP datagrams dropped (full socket buffers)` : '') +
          (step.other_cpu > 0.2 ? `, WARNING: other processes used ${step.other_cpu} cores meanwhile` : '') +
          (step.device_failed || step.uncancelled_branches ? `; devices: ${step.device_failed} calls failed, ${step.uncancelled_branches} branches never cancelled` : '') +
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
    await Promise.all(devices.map((d) => d.process.stop()));
  }
}

/**
 * Two cores are shared with whatever else runs on the machine: before a step, wait (up to 60 s)
 * for a second in which the machine is nearly idle — between steps the server and the devices
 * are idle too, so what is busy then is someone else.
 */
async function waitForQuietMachine(): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const before = machineBusySeconds();
    await new Promise((r) => setTimeout(r, 1_000));
    const busy = machineBusySeconds() - before;
    if (busy < 0.25) return;
    if (Date.now() > deadline) {
      log(`the machine stays busy (${round(busy, 2)} cores used by other work): measuring anyway`);
      return;
    }
  }
}

async function runStep(server: ServerUnderTest, devices: Uas[], rate: number, workDir: string): Promise<Step> {
  await waitForQuietMachine();
  const before = devices.map(deviceErrors);
  const serverMonitor = server.pid !== undefined ? new TreeMonitor(server.pid) : undefined;
  const sippMonitors = devices.map((d) => new TreeMonitor(d.process.pid));
  serverMonitor?.start();
  for (const m of sippMonitors) m.start();
  const machineBefore = machineBusySeconds();
  const dropsBefore = udpReceiveBufferErrors();
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
  const udpDrops = udpReceiveBufferErrors() - dropsBefore;
  const otherCpu = Math.max(0, machineCores - (serverUsage?.cpuCores ?? 0) - sippCpu - (own.user + own.system) / 1e6 / seconds);

  // Let this step's tail end before the next step: the devices keep each call 4 s after its BYE
  // (to absorb retransmissions), Kamailio its transactions 5 s. SIPp reports no per-call state of
  // the devices (their calls are out-of-call scenarios), so this is a fixed pause.
  await new Promise((r) => setTimeout(r, 5_000));
  const after = devices.map(deviceErrors);
  const deviceFailed = after.reduce((sum, a, i) => sum + a.failed - before[i]!.failed, 0);
  const uncancelled = after.reduce((sum, a, i) => sum + a.uncancelled - before[i]!.uncancelled, 0);

  const passed = result.failed_pct < MAX_FAILED_PCT && result.achieved_cps >= MIN_ACHIEVED_FRACTION * rate;
  return {
    ...result,
    passed,
    cpu: serverUsage ? round(serverUsage.cpuCores, 2) : null,
    rss: serverUsage ? round(serverUsage.peakPssMiB, 1) : null,
    sipp_cpu: round(sippCpu, 2),
    device_failed: deviceFailed,
    uncancelled_branches: uncancelled,
    other_cpu: round(otherCpu, 2),
    machine_cpu: round(machineCores, 2),
    udp_drops: udpDrops,
  };
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
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new MissingDependencyError('sipp is not installed: apt-get install sip-tester (or bash scripts/install-test-deps.sh as root)');
  }
  // The anchor first: a run that cannot measure Kamailio ends before measuring anything.
  if (target !== 'ringside') ensureKamailio(log);
  const root = mkdtempSync(path.join(tmpdir(), 'sip-load-'));
  log(`work files in ${root}; rates ${rates.join(', ')} calls/s, ${stepSeconds} s per step`);
  // Also on SIGINT/SIGTERM, which end the process without unwinding to the finally below.
  const removeWorkFiles = () => {
    if (!args['keep-files']) rmSync(root, { recursive: true, force: true });
  };
  process.once('exit', removeWorkFiles);
  try {
    const kamailio = target !== 'ringside' ? await measure('kamailio', root) : undefined;
    const ringside = target !== 'kamailio' ? await measure('ringside', root) : undefined;
    let output: Record<string, unknown>;
    if (ringside) {
      output = {
        ...summary(ringside),
        steps: ringside.steps,
        ...(kamailio ? { kamailio: { ...summary(kamailio), steps: kamailio.steps } } : {}),
        ...(kamailio ? {} : { kamailio: null, kamailio_skipped: '--target ringside: Ringside alone, nothing to compare it with' }),
        ratio_vs_kamailio: kamailio && kamailio.cps_max_at_1pct_failure > 0 ? round(ringside.cps_max_at_1pct_failure / kamailio.cps_max_at_1pct_failure, 3) : null,
      };
    } else {
      output = { ...summary(kamailio!), steps: kamailio!.steps };
    }
    output.units = { cpu: 'cores (CPU-seconds per second of the server process tree)', rss: 'MiB (peak PSS summed over the server process tree)', setup: 'ms, first INVITE sent to 200 received, 407 round trip included' };
    process.stdout.write(`${JSON.stringify(output)}\n`);
  } finally {
    if (args['keep-files']) log(`kept ${root}`);
    removeWorkFiles();
  }
}

await main().catch((error: unknown) => {
  if (!(error instanceof MissingDependencyError)) throw error;
  log(error.message);
  process.exit(2);
});
