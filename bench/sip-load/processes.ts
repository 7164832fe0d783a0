/**
 * Child processes of the SIP load benchmark (SIPp, Kamailio, Ringside), each in its own process
 * group with its output in a log file. Whatever way the benchmark ends — normally, by an error, by
 * SIGINT/SIGTERM — every group still alive is killed, so no sipp or kamailio is left behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';

export interface Spawned {
  name: string;
  child: ChildProcess;
  pid: number;
  logFile: string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  hasExited(): boolean;
  /** The last `maxChars` of the log file. */
  logTail(maxChars?: number): string;
  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves when the process has exited. */
  stop(graceMs?: number): Promise<number | null>;
}

const live = new Set<Spawned>();

export function spawnGroup(
  name: string,
  command: string,
  args: string[],
  options: { cwd: string; logFile: string; env?: NodeJS.ProcessEnv },
): Spawned {
  const fd = openSync(options.logFile, 'a');
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    // A file rather than a pipe: nobody has to drain it while SIPp runs at thousands of calls/s.
    stdio: ['ignore', fd, fd],
    detached: true,
  });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  const pid = child.pid;
  let done = false;
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      done = true;
      live.delete(spawned);
      resolve(code);
    });
    child.once('error', () => {
      done = true;
      live.delete(spawned);
      resolve(-1);
    });
  });
  const spawned: Spawned = {
    name,
    child,
    pid,
    logFile: options.logFile,
    exited,
    hasExited: () => done,
    logTail(maxChars = 4_000) {
      try {
        const text = readFileSync(options.logFile, 'utf8');
        return text.slice(-maxChars);
      } catch {
        return '';
      }
    },
    async stop(graceMs = 3_000) {
      if (!done) {
        killGroup(pid, 'SIGTERM');
        const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      // The leader may be gone while forked children (Kamailio's workers) linger.
      killGroup(pid, 'SIGKILL');
      return exited;
    },
  };
  live.add(spawned);
  return spawned;
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

/** Synchronously kills every group still alive (for exit paths that cannot wait). */
export function killAllNow(): void {
  for (const p of live) killGroup(p.pid, 'SIGKILL');
}

let installed = false;

/** Kills all children on exit, on SIGINT/SIGTERM, and on an uncaught error. */
export function installCleanup(): void {
  if (installed) return;
  installed = true;
  process.on('exit', killAllNow);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      process.stderr.write(`\n${signal}: stopping ${live.size} child process group(s)\n`);
      killAllNow();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
  process.on('uncaughtException', (error) => {
    process.stderr.write(`${error.stack ?? String(error)}\n`);
    killAllNow();
    process.exit(1);
  });
  process.on('unhandledRejection', (error) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    killAllNow();
    process.exit(1);
  });
}

/** Waits for a process to exit, or rejects after the timeout (leaving it running). */
export async function waitExit(p: Spawned, timeoutMs: number): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${p.name} did not finish within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([p.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
