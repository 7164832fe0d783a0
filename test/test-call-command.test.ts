/**
 * `npm run test-call` finds the server the way the server was started: the same PORT (and HOST,
 * BASE_URL, config file) in the environment or in `--config FILE`, not a fixed 127.0.0.1:8080.
 * A real Ringside process on a random port, a SIP phone registered as alice, and the command run
 * as a separate process with only what the server was given.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, ROOT, startProcess, type RunningProcess } from './support/process.ts';
import { HttpClient } from './support/server.ts';
import { TestPhone } from './support/sip-phone.ts';
import { waitFor } from './support/wait.ts';

interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `scripts/test-call.ts` as `npm run test-call` does, with only PATH, HOME and `env`. */
function testCall(args: string[], env: Record<string, string>): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ['--import', 'tsx', 'scripts/test-call.ts', ...args],
      { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env }, timeout: 30_000 },
      (_err, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr }),
    );
  });
}

interface Ringside {
  dataDir: string;
  port: number;
  /** Everything the server was started with. */
  env: Record<string, string>;
  /** Alice's desk phone: it declines as busy, so every test call ends at once and is recorded. */
  phone: TestPhone;
  /** Alice signed in over plain HTTP (unused on a TLS server: this process trusts no self-signed certificate). */
  alice: HttpClient;
  stop(): Promise<void>;
}

/** A real `npm start` on random ports (never 8080, where the old command always went). */
async function startRingside(extraEnv: (dataDir: string) => Record<string, string> = () => ({})): Promise<Ringside> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'ringside-test-call-'));
  const [port, sipPort] = [await freePort(), await freePort()];
  const env: Record<string, string> = { PORT: String(port), SIP_PORT: String(sipPort), DATA_DIR: dataDir, SIP_DOMAIN: '127.0.0.1', LOG_LEVEL: 'info', ...extraEnv(dataDir) };
  const server: RunningProcess = startProcess([], env);
  // Logged once everything listens.
  await server.waitFor(/Ringside is running at/, 30_000);
  const phone = await TestPhone.start({ user: 'alice', password: 'ringside-demo', domain: '127.0.0.1', server: { address: '127.0.0.1', port: sipPort }, answer: 'busy' });
  expect((await phone.register()).status).toBe(200);
  const alice = new HttpClient(`http://127.0.0.1:${port}`);
  const stop = async () => {
    await phone.close();
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  return { dataDir, port, env, phone, alice, stop };
}

/** Alice's phone rang from `from`, and her recent calls list the call. */
async function expectRangFrom(ringside: Ringside, from: string): Promise<void> {
  const invite = await ringside.phone.nextRequest('INVITE', 10_000, (r) => r.header('From')!.includes(from));
  expect(invite.header('From')).toContain(from);
  if (ringside.env.TLS_CERT) return;
  const call = await waitFor(async () => {
    const recent = (await ringside.alice.get('/api/v1/calls/recent')).json() as { data: { direction: string; number: string | null }[] };
    return recent.data.find((c) => c.direction === 'inbound' && c.number === from);
  }, { what: `the test call from ${from} in alice's recent calls` });
  expect(call).toBeDefined();
}

describe('npm run test-call finds the server it was started like', () => {
  let ringside: Ringside;
  let port: number;
  let serverEnv: Record<string, string>;
  let dataDir: string;
  const expectRang = (from: string) => expectRangFrom(ringside, from);

  beforeAll(async () => {
    ringside = await startRingside();
    ({ port, env: serverEnv, dataDir } = ringside);
    expect((await ringside.alice.login('alice@example.com')).status).toBe(200);
  }, 60_000);

  afterAll(async () => {
    await ringside?.stop();
  });

  it('reaches a server started with PORT=<n> when run with the same PORT', async () => {
    const result = await testCall(['alice@example.com', '--from', '+14155550134', '--duration', '1'], serverEnv);
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain('Ringing alice@example.com from +14155550134');
    expect(result.code).toBe(0);
    await expectRang('+14155550134');
  });

  it('reaches it through a config file naming the port: --config FILE and RINGSIDE_CONFIG', async () => {
    const file = path.join(dataDir, 'ringside.json');
    writeFileSync(file, JSON.stringify({ PORT: port, DATA_DIR: dataDir }));

    const withFlag = await testCall(['--config', file, 'alice@example.com', '--from', '+14155550135', '--duration', '1'], {});
    expect(withFlag.stderr).toBe('');
    expect(withFlag.stdout).toContain('Ringing alice@example.com from +14155550135');
    expect(withFlag.code).toBe(0);
    await expectRang('+14155550135');

    const withEnv = await testCall(['alice@example.com', '--from', '+14155550136', '--duration', '1'], { RINGSIDE_CONFIG: file });
    expect(withEnv.code).toBe(0);
    await expectRang('+14155550136');
  });

  it('calls loopback for a server told to listen on every interface (HOST=0.0.0.0)', async () => {
    // The server itself stays on 127.0.0.1 (tests bind nothing else): this checks the URL the
    // command derives from HOST=0.0.0.0 is one a machine can connect to.
    const result = await testCall(['alice@example.com', '--from', '+14155550137', '--duration', '1'], { HOST: '0.0.0.0', PORT: String(port) });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    await expectRang('+14155550137');
  });

  it('calls BASE_URL when the server has one (the address it is known by, e.g. behind a proxy)', async () => {
    // PORT names nothing here: only BASE_URL leads to the server.
    const unused = await freePort();
    const result = await testCall(['alice@example.com', '--from', '+14155550140', '--duration', '1'], { PORT: String(unused), BASE_URL: `http://127.0.0.1:${port}` });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    await expectRang('+14155550140');

    const nowhere = await testCall(['alice@example.com'], { BASE_URL: `http://127.0.0.1:${unused}` });
    expect(nowhere.code).toBe(1);
    expect(nowhere.stderr).toContain(`Cannot reach Ringside at http://127.0.0.1:${unused} (from BASE_URL)`);
  });

  it('lets RINGSIDE_URL win over PORT', async () => {
    const unused = await freePort();
    const result = await testCall(['alice@example.com', '--from', '+14155550138', '--duration', '1'], { PORT: String(unused), RINGSIDE_URL: `http://127.0.0.1:${port}/` });
    expect(result.code).toBe(0);
    await expectRang('+14155550138');
  });

  it('with nothing listening, exits non-zero with one line naming the URL it tried and how to point it elsewhere', async () => {
    const unused = await freePort();
    const result = await testCall(['alice@example.com'], { PORT: String(unused) });
    expect(result.code).not.toBe(0);
    expect(result.stdout).toBe('');
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`http://127.0.0.1:${unused}`);
    expect(lines[0]).toMatch(/RINGSIDE_URL/);
    expect(lines[0]).toMatch(/--config/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('stops on a bad setting the way the server does, naming it', async () => {
    const result = await testCall(['alice@example.com'], { PORT: 'eighty' });
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe('Invalid configuration: PORT="eighty": expected an integer from 0 to 65535');
  });
});

describe('npm run test-call against a server with TLS_CERT', () => {
  let ringside: Ringside;

  beforeAll(async () => {
    // A certificate for a public name, as a real deployment has: not for 127.0.0.1, self-signed.
    ringside = await startRingside((dir) => {
      const [cert, key] = [path.join(dir, 'cert.pem'), path.join(dir, 'key.pem')];
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=ringside.example.com', '-addext', 'subjectAltName=DNS:ringside.example.com'], { stdio: 'ignore' });
      return { TLS_CERT: cert, TLS_KEY: key };
    });
  }, 60_000);

  afterAll(async () => {
    await ringside?.stop();
  });

  it('speaks https to its listen address and trusts exactly the server’s own certificate there', async () => {
    const result = await testCall(['alice@example.com', '--from', '+14155550139', '--duration', '1'], ringside.env);
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain('Ringing alice@example.com from +14155550139');
    expect(result.code).toBe(0);
    await expectRangFrom(ringside, '+14155550139');
  });

  it('refuses another certificate on that address, in one line naming the URL', async () => {
    const other = path.join(ringside.dataDir, 'other.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', path.join(ringside.dataDir, 'other-key.pem'), '-out', other, '-days', '1', '-subj', '/CN=ringside.example.com'], { stdio: 'ignore' });
    const result = await testCall(['alice@example.com'], { ...ringside.env, TLS_CERT: other, TLS_KEY: path.join(ringside.dataDir, 'other-key.pem') });
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(`https://127.0.0.1:${ringside.port}`);
    expect(result.stderr).toMatch(/certificate/);
  });
});
