/**
 * CPU and memory of a process and all its descendants, from /proc (Linux only). Kamailio is a
 * tree of forked workers sharing one big shared-memory segment, Ringside one Node process: both
 * are measured the same way — CPU time summed over the tree, memory as the summed PSS (shared
 * pages divided among the processes that map them), so shared memory is not counted N times.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

interface ProcStat {
  pid: number;
  ppid: number;
  /** utime + stime in clock ticks. */
  cpuTicks: number;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
    return { pid, ppid: Number(fields[1]), cpuTicks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return undefined;
  }
}

/** The pid and all its descendants alive now. */
export function processTree(rootPid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (!stat) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push(stat.pid);
    children.set(stat.ppid, list);
  }
  const tree: number[] = [];
  const queue = [rootPid];
  while (queue.length > 0) {
    const pid = queue.pop()!;
    tree.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/** CPU-seconds the whole machine has spent busy (all cores; /proc/stat, not idle or iowait). */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  // cpu  user nice system idle iowait irq softirq steal guest guest_nice
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).slice(1).map(Number);
  return (user + nice + system + irq + softirq + steal) / ticksPerSecond();
}

/** UDP datagrams the kernel dropped because a socket's receive buffer was full (whole machine). */
export function udpReceiveBufferErrors(): number {
  const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
  const names = lines[0]?.split(/\s+/) ?? [];
  const values = lines[1]?.split(/\s+/) ?? [];
  const i = names.indexOf('RcvbufErrors');
  return i > 0 ? Number(values[i] ?? 0) : 0;
}

/** Summed proportional set size of the tree, in MiB. */
export function treePssMiB(pids: number[]): number {
  let kib = 0;
  for (const pid of pids) {
    try {
      const m = /^Pss:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
      if (m) kib += Number(m[1]);
    } catch {
      // Exited meanwhile.
    }
  }
  return kib / 1024;
}

/**
 * Samples a process tree while a benchmark step runs: CPU as cores used on average between
 * `start()` and `stop()` (1.0 = one core busy), memory as the peak PSS seen (sampled every second: reading smaps of a 512 MiB shared segment is not free).
 * A process that exits before `stop()` (a SIPp caller) counts with the CPU time last sampled.
 */
export class TreeMonitor {
  private pids: number[] = [];
  private readonly cpuAtStart = new Map<number, number>();
  private readonly cpuLastSeen = new Map<number, number>();
  private startedAt = 0;
  private peakMiB = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly rootPid: number) {}

  start(): void {
    this.pids = processTree(this.rootPid);
    for (const pid of this.pids) {
      const ticks = readStat(pid)?.cpuTicks ?? 0;
      this.cpuAtStart.set(pid, ticks);
      this.cpuLastSeen.set(pid, ticks);
    }
    this.startedAt = performance.now();
    this.peakMiB = treePssMiB(this.pids);
    this.timer = setInterval(() => this.sample(), 1_000);
  }

  stop(): { cpuCores: number; peakPssMiB: number } {
    clearInterval(this.timer);
    this.sample();
    const seconds = (performance.now() - this.startedAt) / 1000;
    let ticks = 0;
    for (const pid of this.pids) ticks += (this.cpuLastSeen.get(pid) ?? 0) - (this.cpuAtStart.get(pid) ?? 0);
    const cpu = ticks / ticksPerSecond();
    return { cpuCores: seconds > 0 ? cpu / seconds : 0, peakPssMiB: this.peakMiB };
  }

  private sample(): void {
    for (const pid of this.pids) {
      const ticks = readStat(pid)?.cpuTicks;
      if (ticks !== undefined) this.cpuLastSeen.set(pid, ticks);
    }
    this.peakMiB = Math.max(this.peakMiB, treePssMiB(this.pids));
  }
}
