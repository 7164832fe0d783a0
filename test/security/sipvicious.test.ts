/**
 * What a SIPVicious-style scanner learns about a Ringside server (Debian's `sipvicious`: svmap,
 * svwar, svcrack), run as an attacker would against a real server on 127.0.0.1.
 *
 * - svmap finds a SIP server (it must answer OPTIONS: trunks and load balancers ping it) but no
 *   product or version (no User-Agent/Server header).
 * - svwar cannot tell existing users and extensions from unknown ones, even with --force.
 * - svcrack finds a device password early in its list (the check that the tool works here), but
 *   not one that lies past SIP_AUTH_FAILURE_LIMIT guesses: the guessing stops being answered.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../support/server.ts';

const run = promisify(execFile);
const DEMO_PASSWORD = 'ringside-demo';
const WRONG = ['123456', 'password', 'alice', 'secret', '1234', 'qwerty', 'letmein', 'welcome', 'admin', 'changeme', 'sip', 'voip', 'test', 'ringside'];

async function sipvicious(tool: 'svmap' | 'svwar' | 'svcrack', args: string[]): Promise<string> {
  // The tools print their findings on stdout and their warnings on stderr; both are what they learnt.
  const { stdout, stderr } = await run(tool, args, { timeout: 90_000, env: { ...process.env, HOME: dir } });
  return `${stdout}\n${stderr}`;
}

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'ringside-sipvicious-'));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SIPVicious against Ringside', () => {
  let server: TestServer | undefined;

  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  const target = (s: TestServer) => ['-p', String(s.ringside.sip.ports.udp), '-b', '127.0.0.1', '127.0.0.1'];

  it('svmap finds a SIP server but no product or version', async () => {
    server = await startServer();
    const out = await sipvicious('svmap', [...target(server).slice(0, 4), '-x', '127.0.0.1', '127.0.0.1']);
    expect(out).toContain(`127.0.0.1:${server.ringside.sip.ports.udp}`);
    expect(out).toMatch(/\|\s*unknown\s*\|/); // the User Agent column
    expect(out.toLowerCase()).not.toContain('ringside');
  });

  it('svwar cannot tell users and extensions from names that do not exist', async () => {
    server = await startServer();
    const names = path.join(dir, 'names.txt');
    writeFileSync(names, ['alice', 'bob', 'admin', '1001', '1002', '1003', 'nobody', 'carol', '9999'].join('\n') + '\n');
    for (const method of ['REGISTER', 'INVITE', 'OPTIONS']) {
      const out = await sipvicious('svwar', ['-d', names, '-m', method, '--force', '--domain', '127.0.0.1', ...target(server)]);
      // svwar prints a table of the extensions it told apart; "found nothing" when none.
      expect(out, `svwar -m ${method}`).toContain('found nothing');
      expect(out).not.toMatch(/\|\s*(alice|bob|admin|100[123])\s*\|/);
    }
  }, 120_000);

  it('svcrack finds a device password among its first guesses (the tool works here)', async () => {
    server = await startServer();
    const words = path.join(dir, 'early.txt');
    writeFileSync(words, [...WRONG.slice(0, 3), DEMO_PASSWORD].join('\n') + '\n');
    const out = await sipvicious('svcrack', ['-u', 'alice', '-d', words, '--domain', '127.0.0.1', ...target(server)]);
    expect(out).toContain(DEMO_PASSWORD);
  }, 120_000);

  it('svcrack learns nothing once it has guessed SIP_AUTH_FAILURE_LIMIT times, though the password is in its list', async () => {
    server = await startServer();
    const words = path.join(dir, 'late.txt');
    writeFileSync(words, [...WRONG, DEMO_PASSWORD].join('\n') + '\n');
    const out = await sipvicious('svcrack', ['-u', 'alice', '-d', words, '--domain', '127.0.0.1', ...target(server)]);
    expect(out).not.toContain(DEMO_PASSWORD);
    expect(out).toContain('found nothing');
  }, 120_000);
});
