/**
 * Ringside as the server under test of the SIP load benchmark: started the way `npm start` does
 * (`node --import tsx src/main.ts`) with a fresh data directory, so the demo users exist: `alice`
 * (the callee, whose two SIPp devices register) and `bob` (the caller), password `ringside-demo`.
 *
 * Written before the app server had SIP; first run against it (devices registered, forking and
 * CANCEL correct, 300 calls/s passed). If the server's options change, check the env keys below:
 * demo users' device password is DEMO_PASSWORD, the digest realm is SIP_DOMAIN, and the
 * per-address request limit must stay off for a load that all comes from 127.0.0.1.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnGroup, type Spawned } from './processes.ts';
import { freeUdpPort } from './sipp.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface StartedRingside {
  process: Spawned;
  sip: { host: string; port: number };
  httpUrl: string;
}

/** `env` adds to, or overrides, the load benchmark's settings (bench/sip-flood keeps its rate limit). */
export async function startRingside(dir: string, env: Record<string, string> = {}): Promise<StartedRingside> {
  const dataDir = path.join(dir, 'data');
  mkdirSync(dataDir, { recursive: true });
  const sipPort = await freeUdpPort();
  const httpPort = await freeUdpPort();
  const process_ = spawnGroup('ringside', process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    logFile: path.join(dir, 'ringside.log'),
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? dir,
      HOST: '127.0.0.1',
      PORT: String(httpPort),
      SIP_PORT: String(sipPort),
      // The users' domain and digest realm: what the SIPp caller puts in From/To.
      SIP_DOMAIN: '127.0.0.1',
      // The whole load comes from one address: the per-address request limit would throttle it.
      SIP_RATE_LIMIT: '0',
      // …and one user (bob) places every call: no per-user call limits either.
      SIP_MAX_CALLS_PER_USER: '0',
      SIP_MAX_CALL_RATE_PER_USER: '0',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      DEMO_PASSWORD: 'ringside-demo',
      ...env,
    },
  });
  return { process: process_, sip: { host: '127.0.0.1', port: sipPort }, httpUrl: `http://127.0.0.1:${httpPort}` };
}

/** Waits until Ringside's /readyz answers 200 (database migrated and seeded). */
export async function waitForReady(httpUrl: string, timeoutMs: number, started?: Spawned): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (started?.hasExited()) throw new Error(`Ringside exited at start:\n${started.logTail()}`);
    try {
      const response = await fetch(`${httpUrl}/readyz`);
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`Ringside at ${httpUrl} not ready within ${timeoutMs} ms${started ? `:\n${started.logTail()}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
