/**
 * SIPp (Debian `sip-tester`, 3.6.1) processes of the SIP load benchmark: the two answering devices
 * (UAS, long-lived) and one caller (UAC) run per call-rate step, with their statistics read back
 * from SIPp's own files:
 * - `-trace_stat` CSV (one line per second; counters with `(C)` are cumulative),
 * - `-trace_rtt` CSV `<scenario>_<pid>_rtt.csv`: one line per measured response time
 *   (`Date_ms;response_time_ms;rtd_no`, Date_ms since SIPp started, whole milliseconds).
 *   SIPp only writes it every `-rtt_freq` calls and drops the remainder at exit, hence `-rtt_freq 1`.
 */
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnGroup, waitExit, type Spawned } from './processes.ts';

export const SCENARIO_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../sipp');
export const UAC_SCENARIO = path.join(SCENARIO_DIR, 'uac-invite-auth.xml');
export const UAS_ANSWER_SCENARIO = path.join(SCENARIO_DIR, 'uas-answer.xml');
export const UAS_RING_OR_CANCEL_SCENARIO = path.join(SCENARIO_DIR, 'uas-ring-or-cancel.xml');
export const REGISTER_SCENARIO = path.join(SCENARIO_DIR, 'register.xml');

/** Log every SIP message each SIPp sends and receives (`messages.log` in its directory). */
let traceMessages = false;
export function setTraceMessages(on: boolean): void {
  traceMessages = on;
}

/** Options every SIPp gets: loopback only, no keyboard, no remote-control socket on 0.0.0.0. */
function commonArgs(ports: SippPorts, dir: string): string[] {
  return [
    ...(traceMessages ? ['-trace_msg', '-message_file', path.join(dir, 'messages.log')] : []),
    '-i', '127.0.0.1',
    '-bind_local', // listen on 127.0.0.1 only (SIPp binds every address otherwise)
    '-p', String(ports.sip),
    '-mp', String(ports.media), // SIPp opens media sockets on mp and mp+2 (audio, video) even unused
    '-ci', '127.0.0.1', // its UDP control socket binds 0.0.0.0:8888 unless told otherwise
    '-cp', String(ports.control),
    '-nostdin',
    '-buff_size', String(4 * 1024 * 1024), // socket buffers: bursts at thousands of calls/s
    // A starved SIPp (two cores shared with the server) trips its watchdog; it must not end the run.
    '-watchdog_major_maxtriggers', '1000000',
    '-watchdog_minor_maxtriggers', '1000000',
  ];
}

export interface SippPorts {
  sip: number;
  media: number;
  control: number;
}

/** Free 127.0.0.1 UDP ports for one SIPp: SIP, media (and media+2), control. */
export async function allocateSippPorts(): Promise<SippPorts> {
  const sip = await freeUdpPort();
  let media = await freeUdpPort();
  for (let i = 0; i < 50 && !(await udpPortFree(media + 2)); i++) media = await freeUdpPort();
  const control = await freeUdpPort();
  return { sip, media, control };
}

/** A port free for both UDP and TCP on 127.0.0.1 (Kamailio and Ringside listen on both). */
export async function freeUdpPort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const tcp = createServer();
    tcp.listen(0, '127.0.0.1');
    await once(tcp, 'listening');
    const port = (tcp.address() as { port: number }).port;
    const ok = await udpPortFree(port);
    tcp.close();
    await once(tcp, 'close');
    if (ok) return port;
  }
  throw new Error('no free port on 127.0.0.1');
}

async function udpPortFree(port: number): Promise<boolean> {
  if (port > 65535) return false;
  const socket = createSocket('udp4');
  const ok = await new Promise<boolean>((resolve) => {
    socket.once('error', () => resolve(false));
    socket.bind(port, '127.0.0.1', () => resolve(true));
  });
  if (ok) {
    socket.close();
    await once(socket, 'close');
  }
  return ok;
}

export interface Uas {
  process: Spawned;
  ports: SippPorts;
  statFile: string;
}

export interface DeviceOptions {
  /** Registrar / server under test. */
  server: { host: string; port: number };
  /** The callee: address of record and digest user. */
  user: string;
  password: string;
  /** SIP domain of the address of record. */
  domain: string;
}

/**
 * A SIPp acting as one registered device of the callee: in client mode its one call registers
 * (register.xml, digest auth, refreshed every 30 min) from the device's own socket, and every
 * call the server sends it runs `scenario` as an out-of-call scenario (-oocsf). Resolves once the
 * registration succeeded.
 */
export async function startDevice(name: string, scenario: string, dir: string, options: DeviceOptions): Promise<Uas> {
  mkdirSync(dir, { recursive: true });
  const ports = await allocateSippPorts();
  const statFile = path.join(dir, 'stat.csv');
  const registrationLog = path.join(dir, 'registration.log');
  const errorFile = path.join(dir, 'errors.log');
  const process = spawnGroup(
    name,
    'sipp',
    [
      `${options.server.host}:${options.server.port}`,
      '-sf', REGISTER_SCENARIO,
      '-oocsf', scenario,
      ...commonArgs(ports, dir),
      '-s', options.user,
      '-au', options.user,
      '-ap', options.password,
      '-key', 'domain', options.domain,
      // One call: the registration, which never ends; the calls to the device are out-of-call.
      '-m', '1',
      // No cap on concurrent calls (each lingers 4 s in timewait after it ends).
      '-l', '1000000',
      // A recv with no timeout of its own (ACK, BYE) gives up after 32 s, like RFC 3261 timer B.
      '-recv_timeout', '32000',
      '-trace_stat', '-stf', statFile, '-fd', '1',
      '-trace_logs', '-log_file', registrationLog,
      // Not rotated: its failures are counted from it (bounded by the benchmark's length).
      '-trace_err', '-error_file', errorFile,
    ],
    { cwd: dir, logFile: path.join(dir, 'sipp.out') },
  );
  const registered = () => safeRead(registrationLog).includes('registered');
  await waitFor(() => registered() || process.hasExited(), 15_000, `${name} to register`).catch(() => undefined);
  if (!registered()) {
    await process.stop(1_000);
    throw new Error(`${name} did not register with ${options.server.host}:${options.server.port}:\n${safeRead(errorFile).slice(0, 3000)}\n${process.logTail(1500)}`);
  }
  return { process, ports, statFile };
}

/** The last line of a SIPp statistics CSV as column → value. */
export function readLastStats(file: string): Map<string, string> | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (lines.length < 2) return undefined;
  const header = lines[0]!.split(';');
  const values = lines[lines.length - 1]!.split(';');
  return new Map(header.map((name, i) => [name, values[i] ?? '']));
}

function counter(stats: Map<string, string> | undefined, name: string): number {
  const value = Number(stats?.get(name) ?? 0);
  return Number.isFinite(value) ? value : 0;
}

export interface DeviceErrors {
  /** Calls the device aborted (no ACK or BYE in time, unexpected message, retransmissions exhausted). */
  failed: number;
  /** Calls on which a ringing device never got the CANCEL and answered after its 5 s wait. */
  uncancelled: number;
}

/**
 * What a device's error log says so far. Its calls run as out-of-call scenarios, which SIPp leaves
 * out of its statistics file: the error log is where their failures show.
 */
export function deviceErrors(uas: Uas): DeviceErrors {
  const text = safeRead(path.join(path.dirname(uas.statFile), 'errors.log'));
  return {
    failed: (text.match(/aborting call/gi) ?? []).length,
    uncancelled: (text.match(/receive timeout on message [^\n]*?jumping to label/g) ?? []).length,
  };
}

export interface UacStepOptions {
  server: { host: string; port: number };
  rate: number;
  seconds: number;
  callee: string;
  caller: string;
  password: string;
  domain: string;
  dir: string;
}

export interface UacStepResult {
  offered_cps: number;
  calls: number;
  successful: number;
  failed: number;
  failed_pct: number;
  /** Rate at which calls were set up (200 received), over the span of the step. */
  achieved_cps: number;
  /** First INVITE sent → 200 received, including the digest challenge round trip (ms). */
  p50_setup_ms: number | null;
  p99_setup_ms: number | null;
  max_setup_ms: number | null;
  /** Authenticated INVITE sent → 200 received (ms). */
  p50_auth_setup_ms: number | null;
  p99_auth_setup_ms: number | null;
  retransmissions: number;
  /** Non-zero SIPp failure counters, e.g. FailedTimeoutOnRecv, FailedUnexpectedMessage. */
  failure_causes: Record<string, number>;
  /** What the SIPp error log says first, when calls failed. */
  first_error?: string;
  sipp_exit: number | null;
}

/** Runs one SIPp caller at `rate` calls/s for `seconds`, waits for its calls to end, reads its figures. */
export async function runUacStep(options: UacStepOptions, onStarted?: (p: Spawned) => void): Promise<UacStepResult> {
  mkdirSync(options.dir, { recursive: true });
  const ports = await allocateSippPorts();
  const total = Math.round(options.rate * options.seconds);
  const statFile = path.join(options.dir, 'stat.csv');
  const errorFile = path.join(options.dir, 'errors.log');
  const uac = spawnGroup(
    `sipp uac ${options.rate}/s`,
    'sipp',
    [
      `${options.server.host}:${options.server.port}`,
      '-sf', UAC_SCENARIO,
      ...commonArgs(ports, options.dir),
      '-s', options.callee,
      '-au', options.caller,
      '-ap', options.password,
      '-key', 'caller', options.caller,
      '-key', 'domain', options.domain,
      '-r', String(options.rate),
      '-rp', '1000',
      '-m', String(total),
      // Room for ~5 s of calls in flight; a server that falls further behind shows as a lower achieved rate.
      '-l', String(Math.max(100, options.rate * 5)),
      '-recv_timeout', '10000',
      '-trace_stat', '-stf', statFile, '-fd', '1',
      '-trace_rtt', '-rtt_freq', '1',
      '-trace_err', '-error_file', errorFile,
      // Only its first error is read: keep at most ~20 MB of a collapsing step's errors.
      '-ringbuffer_files', '1',
      '-ringbuffer_size', String(20 * 1024 * 1024),
      '-trace_screen', '-screen_file', path.join(options.dir, 'screen.log'),
    ],
    { cwd: options.dir, logFile: path.join(options.dir, 'sipp.out') },
  );
  onStarted?.(uac);
  let exitCode: number | null;
  try {
    // Calls: `seconds` of generation, 1 s hold, up to 10 s for a lost answer, plus slack.
    exitCode = await waitExit(uac, (options.seconds + 40) * 1000);
  } catch {
    process.stderr.write(`  ${uac.name} did not finish in time: stopped; unfinished calls count as failed\n`);
    exitCode = await uac.stop(2_000);
  }
  if (exitCode !== null && exitCode !== 0 && exitCode !== 1) {
    // 0: all calls succeeded, 1: some failed; anything else is SIPp itself failing.
    const stats = readLastStats(statFile);
    if (!stats) throw new Error(`SIPp UAC exited with ${exitCode}:\n${uac.logTail()}\n${safeRead(errorFile).slice(0, 2000)}`);
  }

  const stats = readLastStats(statFile);
  const created = counter(stats, 'TotalCallCreated') || total;
  const successful = counter(stats, 'SuccessfulCall(C)');
  const failed = Math.max(counter(stats, 'FailedCall(C)'), created - successful);
  const causes: Record<string, number> = {};
  for (const [name, value] of stats ?? []) {
    const m = /^(Failed\w+)\(C\)$/.exec(name);
    if (m && name !== 'FailedCall(C)' && Number(value) > 0) causes[m[1]!] = Number(value);
  }

  const rtt = readRtt(options.dir);
  const setup = rtt.get('setup') ?? { times: [], dates: [] };
  const authSetup = rtt.get('auth_setup') ?? { times: [], dates: [] };
  const setupTimes = [...setup.times].sort((a, b) => a - b);
  const authTimes = [...authSetup.times].sort((a, b) => a - b);
  // Setups completed per second between the first and the last 200 received.
  const span = setup.dates.length > 1 ? (Math.max(...setup.dates) - Math.min(...setup.dates)) / 1000 : 0;
  const achieved = span > 0 ? (setup.dates.length - 1) / span : 0;
  const firstError = failed > 0 ? firstErrorLine(errorFile) : undefined;

  return {
    offered_cps: options.rate,
    calls: created,
    successful,
    failed,
    failed_pct: created > 0 ? round((failed / created) * 100, 3) : 100,
    achieved_cps: round(achieved, 1),
    p50_setup_ms: percentile(setupTimes, 50),
    p99_setup_ms: percentile(setupTimes, 99),
    max_setup_ms: setupTimes.length ? setupTimes[setupTimes.length - 1]! : null,
    p50_auth_setup_ms: percentile(authTimes, 50),
    p99_auth_setup_ms: percentile(authTimes, 99),
    retransmissions: counter(stats, 'Retransmissions(C)'),
    failure_causes: causes,
    ...(firstError ? { first_error: firstError } : {}),
    sipp_exit: exitCode,
  };
}

function readRtt(dir: string): Map<string, { times: number[]; dates: number[] }> {
  const result = new Map<string, { times: number[]; dates: number[] }>();
  const file = readdirSync(dir).find((f) => f.endsWith('_rtt.csv'));
  if (!file) return result;
  for (const line of readFileSync(path.join(dir, file), 'utf8').split('\n')) {
    const [date, time, name] = line.split(';');
    if (!name || date === 'Date_ms') continue;
    const entry = result.get(name) ?? { times: [], dates: [] };
    entry.times.push(Number(time));
    entry.dates.push(Number(date));
    result.set(name, entry);
  }
  return result;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

function firstErrorLine(file: string): string | undefined {
  const text = safeRead(file);
  const line = text.split('\n').find((l) => /\d{4}-\d\d-\d\d/.test(l));
  return line?.replace(/^\S+\s+\S+\s+\S+:\s*/, '').slice(0, 300);
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

export function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Polls a condition (another process's file or state: there is no event to wait on). */
export async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
