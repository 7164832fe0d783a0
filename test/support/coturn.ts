/**
 * Debian's coturn as the TURN server of browser tests: loopback only, REST-API credentials
 * (`use-auth-secret`, as Ringside's /api/v1/ice-servers hands out), loopback peers allowed (every
 * test endpoint is on 127.0.0.1), no CLI, no TLS. Stops with its process group.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './process.ts';
import { waitFor } from './wait.ts';

export class Coturn {
  private constructor(
    readonly port: number,
    readonly secret: string,
    private readonly child: ChildProcess,
    private readonly dir: string,
  ) {}

  /** `turn:127.0.0.1:PORT?transport=udp` and the tcp one. */
  get urls(): string[] {
    return [`turn:127.0.0.1:${this.port}?transport=udp`, `turn:127.0.0.1:${this.port}?transport=tcp`];
  }

  /** Allocations made so far (from its log): proof media went through the relay. */
  allocations(): number {
    return (this.log().match(/ALLOCATE processed, success/g) ?? []).length;
  }

  log(): string {
    try {
      return readFileSync(path.join(this.dir, 'turn.log'), 'utf8');
    } catch {
      return '';
    }
  }

  static async start(secret = 'ringside-test-turn-secret'): Promise<Coturn> {
    const dir = mkdtempSync(path.join(tmpdir(), 'coturn-'));
    const port = await freePort();
    const minPort = 50000 + Math.floor(Math.random() * 5000);
    const child = spawn(
      'turnserver',
      [
        '-n', // no config file
        '--listening-ip=127.0.0.1',
        '--relay-ip=127.0.0.1',
        `--listening-port=${port}`,
        `--min-port=${minPort}`,
        `--max-port=${minPort + 200}`,
        '--use-auth-secret',
        `--static-auth-secret=${secret}`,
        '--realm=ringside.test',
        '--allow-loopback-peers',
        '--no-cli',
        '--no-tls',
        '--no-dtls',
        '--fingerprint',
        '--verbose',
        `--log-file=${path.join(dir, 'turn.log')}`,
        '--simple-log',
        '--no-stdout-log',
        `--pidfile=${path.join(dir, 'turn.pid')}`,
      ],
      { stdio: 'ignore', detached: true },
    );
    const coturn = new Coturn(port, secret, child, dir);
    await waitFor(() => /listener opened on|Total (UDP|General) servers/i.test(coturn.log()), { timeoutMs: 10_000, what: 'coturn listening' });
    return coturn;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) {
      try {
        process.kill(-this.child.pid!, 'SIGTERM');
      } catch {
        // gone
      }
      await once(this.child, 'exit');
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
