/**
 * Runs Debian's rtpengine (userspace forwarding, no kernel module) on loopback, for development,
 * the tests and the benchmark. Production runs rtpengine as its own service and gives Ringside its
 * ng address (RTPENGINE_NG).
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createSocket } from 'node:dgram';
import { NgClient } from './ng-client.ts';

/** Why rtpengine cannot run here, or undefined when it can. */
export function rtpengineMissing(binary = 'rtpengine'): string | undefined {
  const r = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 5000 });
  if (r.error) return `${binary}: ${(r.error as NodeJS.ErrnoException).code ?? r.error.message}`;
  if (r.status !== 0) return `${binary} --version exited ${r.status}`;
  return undefined;
}

export interface RtpengineDaemon {
  /** `127.0.0.1:PORT` of its ng control socket. */
  ng: string;
  pid: number;
  output(): string;
  stop(): Promise<void>;
}

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  const port = s.address().port;
  s.close();
  return port;
}

export async function startRtpengine(options: { portMin: number; portMax: number; binary?: string; timeoutS?: number; logLevel?: number }): Promise<RtpengineDaemon> {
  const ngPort = await freeUdpPort();
  const args = [
    '--config-file=none',
    '--interface=127.0.0.1',
    `--listen-ng=127.0.0.1:${ngPort}`,
    '--foreground',
    '--log-stderr',
    `--log-level=${options.logLevel ?? 5}`,
    '--table=-1',
    `--port-min=${options.portMin}`,
    `--port-max=${options.portMax}`,
    // Its own media timeout (then it deletes the call); the relay watches media itself, shorter.
    `--timeout=${options.timeoutS ?? 60}`,
    '--delete-delay=0',
  ];
  const child = spawn(options.binary ?? 'rtpengine', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  child.stderr.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  const exited = once(child, 'exit');
  const ng = `127.0.0.1:${ngPort}`;
  const client = new NgClient({ address: ng, timeoutMs: 100, attempts: 1 });
  const deadline = Date.now() + 10_000;
  try {
    // Ready when it answers ping (each try waits up to 100 ms for the pong: no blind sleep).
    for (;;) {
      if (child.exitCode !== null) throw new Error(`rtpengine exited (${child.exitCode}) at start:\n${out}`);
      try {
        const reply = await client.request('ping');
        if (reply.result === 'pong') break;
      } catch (e) {
        if (Date.now() > deadline) throw new Error(`rtpengine did not answer ping on ${ng} within 10 s: ${(e as Error).message}\n${out}`);
      }
    }
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  } finally {
    client.close();
  }
  return {
    ng,
    pid: child.pid!,
    output: () => out,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}
