/**
 * bench/media — N bridged browser ⇄ phone audio calls through the media relay, both
 * implementations in one run, on 127.0.0.1.
 *
 * Each call: a werift peer (the browser: ICE, DTLS-SRTP, PCMU) offers, the relay converts the offer
 * for a plain RTP socket (the phone), which answers; both then send 160-byte PCMU packets every
 * 20 ms (50 packets/s each way) stamped with the wall-clock send time. Measured over a window after
 * a warm-up:
 *
 * - cpu_per_call: the relay's CPU (fraction of one core) divided by the calls. The in-process relay
 *   runs in a child process (bench/media/relay-process.ts) and rtpengine is its own process, so
 *   /proc/PID/stat gives the relay's CPU apart from the load generator's.
 * - loss_pct: packets sent in the window that never arrived at the other end, both directions.
 * - added_latency_ms_p50/p99: one-way delay, send stamp to receipt, both directions. It includes the
 *   load generator's own delays (one event loop running 50 werift peers), so it is an upper bound
 *   on what the relay adds; both relays are measured with the same generator.
 *
 * Prints one JSON object: {calls, cpu_per_call, loss_pct, added_latency_ms_p99, …, rtpengine:{…},
 * ratio_to_rtpengine:{calls_per_core, added_latency_ms_p99}}.
 *
 * rtpengine is the anchor: without it the in-process figures have nothing to be judged against, so
 * a missing rtpengine ends the run before anything is measured (one line on stderr saying how to
 * install it, exit status 2). `--skip-rtpengine` measures the in-process relay alone on purpose and
 * prints `"rtpengine": null` with `rtpengine_skipped` saying why.
 *
 *   npm run bench:media [-- --calls 50 --seconds 15 --skip-rtpengine]
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { RtpengineRelay, type MediaRelay, type RelayAnswer, type RelayedSdp, type RelayLegStats, type RelayOffer } from '../src/media/index.ts';
import { rtpengineMissing, startRtpengine } from '../src/media/rtpengine/daemon.ts';
import { WebRtcLeg } from '../src/media/in-process/webrtc-leg.ts';
import { RtpPeer, WeriftPeer, wallMs } from '../test/support/werift-peer.ts';
import { machineBusySeconds } from './sip-load/procstat.ts';

const { values: args } = parseArgs({
  options: {
    calls: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '15' },
    warmup: { type: 'string', default: '3' },
    'skip-rtpengine': { type: 'boolean', default: false },
    'skip-in-process': { type: 'boolean', default: false },
    /** `werift`: WeriftPeer (werift's own media path); `lean`: werift for ICE/DTLS, the relay's SRTP path. */
    browsers: { type: 'string', default: 'werift' },
  },
});
const LEAN = args.browsers === 'lean';
const CALLS = Number(args.calls);
const SECONDS = Number(args.seconds);
const WARMUP_S = Number(args.warmup);
const log = (m: string) => process.stderr.write(`[media] ${m}\n`);
const CLK_TCK = 100;

// Checked before anything is measured: a run without its anchor must not look like a full one.
if (!args['skip-rtpengine']) {
  const missing = rtpengineMissing();
  if (missing) {
    log(`rtpengine, this benchmark's anchor, is missing (${missing}): install it with \`apt-get install rtpengine-daemon\`, or pass --skip-rtpengine to measure the in-process relay alone`);
    process.exit(2);
  }
}

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** The in-process relay in a child process, behind the MediaRelay interface. */
class ChildRelay implements MediaRelay {
  readonly kind = 'in-process' as const;
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  private constructor(readonly child: ChildProcess) {
    child.on('message', (m: { id?: number; result?: unknown; error?: string }) => {
      if (m.id === undefined) return;
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (m.error !== undefined) p?.reject(new Error(m.error));
      else p?.resolve(m.result);
    });
  }

  static async start(): Promise<ChildRelay> {
    const here = path.dirname(fileURLToPath(import.meta.url));
    // RELAY_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", to profile the relay alone.
    const extra = process.env.RELAY_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
    const child = fork(path.join(here, 'media', 'relay-process.ts'), [], { execArgv: ['--import', 'tsx', ...extra], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    await once(child, 'message');
    return new ChildRelay(child);
  }

  private call<T>(method: string, ...a: unknown[]): Promise<T> {
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ id, method, args: a });
    });
  }

  offer(r: RelayOffer): Promise<RelayedSdp> {
    return this.call('offer', r);
  }
  answer(r: RelayAnswer): Promise<RelayedSdp> {
    return this.call('answer', r);
  }
  delete(callId: string): Promise<void> {
    return this.call('delete', callId);
  }
  stats(callId: string): Promise<RelayLegStats[]> {
    return this.call('stats', callId);
  }
  loopDelayReset(): Promise<void> {
    return this.call('loopDelayReset');
  }
  loopDelay(): Promise<{ p50: number; p99: number; max: number }> {
    return this.call('loopDelay');
  }
  async close(): Promise<void> {
    const exited = once(this.child, 'exit');
    await this.call('close');
    await exited;
  }
}

/** What the bench needs of a browser: make an offer, take the answer, send and count stamped PCMU. */
interface Browser {
  sent: number;
  audio: WeriftPeer['audio'];
  createOffer(): Promise<string>;
  acceptAnswer(sdp: string): Promise<void>;
  connected(timeoutMs?: number): Promise<void>;
  sendPacket(stamp: boolean): void;
  close(): Promise<void>;
}

/**
 * A browser whose media path costs what the relay's WebRTC side costs (werift does ICE and the
 * DTLS handshake, packets go through the relay's own SRTP), so the load generator disturbs the
 * measurement less than 50 full werift peers in one event loop do.
 */
class LeanBrowser implements Browser {
  sent = 0;
  readonly audio: WeriftPeer['audio'];
  private readonly leg = new WebRtcLeg({ address: '127.0.0.1', portMin: 50000, portMax: 59999 });
  private seq = 0;
  private ts = 0;
  private ssrc = 0;

  constructor() {
    // Borrow the counter (delays, waiters) of a WeriftPeer that never connects.
    const counterOwner = new WeriftPeer();
    this.audio = counterOwner.audio;
    void counterOwner.close();
    this.leg.onRtp = (buf, len) => this.audio.hit(buf[1]! & 0x7f, buf.subarray(12, len));
  }

  async createOffer(): Promise<string> {
    const t = this.leg.pc.addTransceiver('audio', { direction: 'sendrecv' });
    t.codecs = t.codecs.filter((c) => c.name.toUpperCase() === 'PCMU');
    await this.leg.pc.setLocalDescription(await this.leg.pc.createOffer());
    this.ssrc = t.sender.ssrc;
    return this.leg.localSdp();
  }

  async acceptAnswer(sdp: string): Promise<void> {
    await this.leg.pc.setRemoteDescription({ type: 'answer', sdp });
  }

  async connected(timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    // The leg has no event for "keys agreed"; poll its flag (setup only, not the measurement).
    while (!this.leg.ready) {
      if (Date.now() > deadline) throw new Error('lean browser: DTLS did not complete');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  sendPacket(stamp: boolean): void {
    const buf = Buffer.allocUnsafe(12 + 160 + 10);
    buf.fill(0xff, 12, 172);
    this.seq = (this.seq + 1) & 0xffff;
    this.ts = (this.ts + 160) >>> 0;
    buf[0] = 0x80;
    buf[1] = 0;
    buf.writeUInt16BE(this.seq, 2);
    buf.writeUInt32BE(this.ts, 4);
    buf.writeUInt32BE(this.ssrc, 8);
    if (stamp) {
      buf.writeUInt32BE(0x52494e47, 12);
      buf.writeDoubleBE(wallMs(), 16);
    }
    if (this.leg.sendRtp(buf, 172)) this.sent++;
  }

  close(): Promise<void> {
    return this.leg.close();
  }
}

interface Call {
  id: string;
  browser: Browser;
  phone: RtpPeer;
}

async function setUp(relay: MediaRelay, n: number, prefix: string): Promise<Call[]> {
  const calls: Call[] = [];
  const one = async (i: number) => {
    const browser: Browser = LEAN ? new LeanBrowser() : new WeriftPeer({ answerDtlsRole: 'server' });
    const phone = await RtpPeer.open();
    const id = `${prefix}-${i}`;
    const offer = await relay.offer({ callId: id, fromTag: 'browser', sdp: await browser.createOffer(), to: 'rtp' });
    phone.useRemote(offer.sdp);
    const answer = await relay.answer({ callId: id, fromTag: 'browser', toTag: 'phone', sdp: phone.sdp() });
    await browser.acceptAnswer(answer.sdp);
    await browser.connected(15_000);
    calls.push({ id, browser, phone });
  };
  for (let i = 0; i < n; i += 10) await Promise.all(Array.from({ length: Math.min(10, n - i) }, (_, k) => one(i + k)));
  return calls;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const round = (v: number, digits = 2) => Math.round(v * 10 ** digits) / 10 ** digits;

/**
 * Two cores are shared with whatever else runs here (other test suites, browsers): latency on a
 * busy machine measures the machine. Before each relay, wait up to 60 s for a nearly idle second;
 * the figures then report how busy the rest of the machine was during the window.
 */
async function waitForQuietMachine(): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const before = machineBusySeconds();
    await new Promise((r) => setTimeout(r, 1000));
    const busy = machineBusySeconds() - before;
    if (busy < 0.25) return;
    if (Date.now() > deadline) {
      log(`the machine stays busy (${round(busy)} cores used by other work): measuring anyway`);
      return;
    }
  }
}

async function measure(name: string, relay: MediaRelay, relayPid: number) {
  await waitForQuietMachine();
  log(`${name}: setting up ${CALLS} calls`);
  const t0 = Date.now();
  const calls = await setUp(relay, CALLS, name);
  log(`${name}: ${CALLS} calls up in ${Date.now() - t0} ms; sending 50 packets/s each way`);
  // Each call's two senders start at a random phase, as real calls do (no synchronised bursts).
  const timers: NodeJS.Timeout[] = [];
  const starters: NodeJS.Timeout[] = [];
  for (const c of calls) {
    starters.push(setTimeout(() => timers.push(setInterval(() => c.browser.sendPacket(true), 20)), Math.random() * 20));
    starters.push(setTimeout(() => timers.push(setInterval(() => c.phone.sendPacket(true), 20)), Math.random() * 20));
  }
  await new Promise((r) => setTimeout(r, WARMUP_S * 1000));

  const sentBefore = calls.map((c) => [c.browser.sent, c.phone.sent] as const);
  const receivedBefore = calls.map((c) => [c.phone.audio.received, c.browser.audio.received] as const);
  for (const c of calls) {
    c.browser.audio.collectDelays = true;
    c.phone.audio.collectDelays = true;
  }
  const generatorLoop = monitorEventLoopDelay({ resolution: 1 });
  generatorLoop.enable();
  if (relay instanceof ChildRelay) await relay.loopDelayReset();
  const cpu0 = cpuSeconds(relayPid);
  const machine0 = machineBusySeconds();
  const wall0 = performance.now();
  const generatorCpu0 = process.cpuUsage();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const cpu1 = cpuSeconds(relayPid);
  const machine1 = machineBusySeconds();
  const wall1 = performance.now();
  const generatorCpu = process.cpuUsage(generatorCpu0);
  const sentAfter = calls.map((c) => [c.browser.sent, c.phone.sent] as const);
  generatorLoop.disable();
  const relayLoop = relay instanceof ChildRelay ? await relay.loopDelay() : undefined;
  for (const t of [...starters, ...timers]) clearTimeout(t);
  for (const t of timers) clearInterval(t);
  // Let the last packets of the window arrive before counting them.
  await new Promise((r) => setTimeout(r, 300));

  let sent = 0;
  let received = 0;
  calls.forEach((c, i) => {
    sent += sentAfter[i]![0] - sentBefore[i]![0] + sentAfter[i]![1] - sentBefore[i]![1];
    received += c.phone.audio.received - receivedBefore[i]![0] + c.browser.audio.received - receivedBefore[i]![1];
  });
  const toPhone = calls.flatMap((c) => c.phone.audio.delays).sort((a, b) => a - b);
  const toBrowser = calls.flatMap((c) => c.browser.audio.delays).sort((a, b) => a - b);
  const all = [...toPhone, ...toBrowser].sort((a, b) => a - b);
  const relayCores = (cpu1 - cpu0) / ((wall1 - wall0) / 1000);
  const stats = await relay.stats(calls[0]!.id).catch(() => []);

  for (const c of calls) {
    await relay.delete(c.id).catch(() => {});
    await c.browser.close();
    c.phone.close();
  }
  return {
    calls: CALLS,
    browsers: LEAN ? 'lean (werift ICE/DTLS, relay SRTP path)' : 'werift peers',
    cpu_per_call: round(relayCores / CALLS, 5),
    relay_cpu_pct_of_core: round(relayCores * 100, 1),
    calls_per_core: round(CALLS / relayCores, 0),
    loss_pct: round(Math.max(0, ((sent - received) / sent) * 100), 3),
    added_latency_ms_p50: round(percentile(all, 50)),
    added_latency_ms_p99: round(percentile(all, 99)),
    latency_ms_p99_to_phone: round(percentile(toPhone, 99)),
    latency_ms_p99_to_browser: round(percentile(toBrowser, 99)),
    latency_ms_max: round(all[all.length - 1] ?? NaN),
    packets_sent: sent,
    packets_received: received,
    window_s: round((wall1 - wall0) / 1000, 1),
    generator_cpu_pct_of_core: round(((generatorCpu.user + generatorCpu.system) / 1e6 / ((wall1 - wall0) / 1000)) * 100, 1),
    // Whole machine minus relay and generator (includes some kernel network work of the test itself).
    other_load_pct_of_core: round(((machine1 - machine0 - (cpu1 - cpu0) - (generatorCpu.user + generatorCpu.system) / 1e6) / ((wall1 - wall0) / 1000)) * 100, 1),
    generator_event_loop_delay_ms: { p99: round(generatorLoop.percentile(99) / 1e6), max: round(generatorLoop.max / 1e6) },
    ...(relayLoop ? { relay_event_loop_delay_ms: { p99: round(relayLoop.p99), max: round(relayLoop.max) } } : {}),
    sample_call_stats: stats,
  };
}

const result: Record<string, unknown> = {};
if (!args['skip-in-process']) {
  const relay = await ChildRelay.start();
  try {
    Object.assign(result, await measure('in-process', relay, relay.child.pid!));
  } finally {
    await relay.close();
  }
}
if (args['skip-rtpengine']) {
  result.rtpengine = null;
  result.rtpengine_skipped = '--skip-rtpengine: the in-process relay alone, nothing to compare it with';
} else {
  const daemon = await startRtpengine({ portMin: 48000, portMax: 49999, timeoutS: 120 });
  const relay = new RtpengineRelay({ ng: daemon.ng, mediaTimeoutMs: 60_000 });
  try {
    result.rtpengine = await measure('rtpengine', relay, daemon.pid);
  } finally {
    await relay.close();
    await daemon.stop();
  }
}
// The in-process relay against the anchor measured in this same run (> 1 means more / longer).
const anchor = result.rtpengine as Record<string, unknown> | null | undefined;
if (typeof result.calls_per_core === 'number' && typeof anchor?.calls_per_core === 'number') {
  const ratio = (a: unknown, b: unknown) => (typeof a === 'number' && typeof b === 'number' && b > 0 ? Math.round((a / b) * 100) / 100 : null);
  result.ratio_to_rtpengine = {
    calls_per_core: ratio(result.calls_per_core, anchor.calls_per_core),
    added_latency_ms_p99: ratio(result.added_latency_ms_p99, anchor.added_latency_ms_p99),
  };
} else {
  result.ratio_to_rtpengine = null;
}
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
