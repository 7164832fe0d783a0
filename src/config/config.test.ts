import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, ROOT, startProcess } from '../../test/support/process.ts';
import { HttpClient } from '../../test/support/server.ts';
import { ConfigError, OPTIONS, loadConfig } from './index.ts';

const tmp = mkdtempSync(path.join(tmpdir(), 'ringside-config-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('configuration', () => {
  it('has defaults that run the embedded setup on 127.0.0.1:8080 with data under ./data', () => {
    const c = loadConfig({ env: {}, cwd: '/srv/ringside' });
    expect(c).toMatchObject({ HOST: '127.0.0.1', PORT: 8080, dataDir: '/srv/ringside/data', DATABASE_URL: undefined, SEED_DEMO: undefined, DEMO_PASSWORD: 'ringside-demo', tls: false });
    expect(c.publicUrl).toBe('http://127.0.0.1:8080');
  });

  it.each([
    [{ PORT: 'eighty' }, 'Invalid configuration: PORT="eighty": expected an integer from 0 to 65535'],
    [{ PORT: '70000' }, 'Invalid configuration: PORT="70000": expected an integer from 0 to 65535'],
    [{ SEED_DEMO: 'maybe' }, 'Invalid configuration: SEED_DEMO="maybe": expected true or false'],
    [{ DATABASE_URL: 'mysql://x' }, 'Invalid configuration: DATABASE_URL="mysql://x": expected a postgres:// or postgresql:// URL (leave unset for SQLite)'],
    [{ PHONE_DEFAULT_REGION: 'XX' }, 'Invalid configuration: PHONE_DEFAULT_REGION="XX": expected a two-letter ISO country code such as US, GB or DE'],
    [{ LOG_LEVEL: 'loud' }, 'Invalid configuration: LOG_LEVEL="loud": expected one of fatal, error, warn, info, debug, trace, silent'],
    [{ TLS_CERT: '/x.pem' }, 'Invalid configuration: TLS_KEY="": expected a PEM file, because TLS_CERT is set'],
  ])('rejects %j with one line naming key, value and expectation', (env, message) => {
    expect(() => loadConfig({ env })).toThrow(new ConfigError('', '', '').constructor);
    expect(() => loadConfig({ env })).toThrow(message);
  });

  it('is documented: the README’s table lists every option', () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    for (const key of Object.keys(OPTIONS)) expect(readme, key).toContain(`| \`${key}\` |`);
  });

  it('reads an optional JSON file, and the environment wins over it', () => {
    const file = path.join(tmp, 'ringside.json');
    writeFileSync(file, JSON.stringify({ PORT: 9000, PHONE_DEFAULT_REGION: 'GB', SEED_DEMO: false }));
    const c = loadConfig({ argv: ['--config', file], env: { PORT: '9100' } });
    expect(c).toMatchObject({ PORT: 9100, PHONE_DEFAULT_REGION: 'GB', SEED_DEMO: false });
    writeFileSync(file, JSON.stringify({ PROT: 9000 }));
    expect(() => loadConfig({ argv: [`--config=${file}`], env: {} })).toThrow(/PROT.*a known option/);
  });
});

describe('the ringside process', () => {
  it('--help lists every option with its default', () => {
    const out = execFileSync(process.execPath, ['--import', 'tsx', 'src/main.ts', '--help'], { encoding: 'utf8' });
    for (const key of Object.keys(OPTIONS)) expect(out).toContain(key);
    expect(out).toContain('default: 8080');
  });

  it('stops at once with one line when a value is bad, and creates nothing', async () => {
    const dataDir = path.join(tmp, 'bad');
    const p = startProcess([], { PORT: 'eighty', DATA_DIR: dataDir });
    expect(await p.exit()).toBe(2);
    expect(p.output()).toBe('Invalid configuration: PORT="eighty": expected an integer from 0 to 65535\n');
    expect(existsSync(dataDir)).toBe(false);
  });

  it('on first start creates the SQLite database and seeds the demo organisation (on loopback), never logging the password', async () => {
    const dataDir = path.join(tmp, 'fresh');
    const port = await freePort();
    const p = startProcess([], { PORT: String(port), DATA_DIR: dataDir });
    try {
      await p.waitFor(/Ringside is running/);
      expect(existsSync(path.join(dataDir, 'ringside.db'))).toBe(true);
      expect(p.output()).toMatch(/"level":40.*demo users sign in with the demo password from the README: only this machine can reach them/);
      expect(p.output()).not.toContain('ringside-demo');
      const client = new HttpClient(`http://127.0.0.1:${port}`);
      expect((await client.login('alice@example.com')).status).toBe(200);
      expect((await client.get('/api/v1/contacts?q=Jane%20Doe')).json().data[0].email).toBe('jane@acme.com');
    } finally {
      expect(await p.stop()).toBe(0);
    }
    // A restart keeps the data and does not seed twice.
    const again = startProcess([], { PORT: String(port), DATA_DIR: dataDir, DEMO_PASSWORD: 'another-password' });
    try {
      await again.waitFor(/Ringside is running/);
      expect(again.output()).not.toContain('seeded the demo organisation');
      const client = new HttpClient(`http://127.0.0.1:${port}`);
      expect((await client.login('alice@example.com')).status).toBe(200);
      const all = (await client.get('/api/v1/contacts?q=Jane%20Doe')).json().data;
      expect(all).toHaveLength(1);
    } finally {
      await again.stop();
    }
  });

  it('starts empty with SEED_DEMO=false', async () => {
    const port = await freePort();
    const p = startProcess([], { PORT: String(port), DATA_DIR: path.join(tmp, 'empty'), SEED_DEMO: 'false' });
    try {
      await p.waitFor(/Ringside is running/);
      expect((await new HttpClient(`http://127.0.0.1:${port}`).login('alice@example.com')).status).toBe(401);
    } finally {
      await p.stop();
    }
  });

  it('serves HTTPS with Secure cookies when TLS_CERT and TLS_KEY are set', async () => {
    const cert = path.join(tmp, 'cert.pem');
    const key = path.join(tmp, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const port = await freePort();
    const p = startProcess([], { PORT: String(port), DATA_DIR: path.join(tmp, 'tls'), TLS_CERT: cert, TLS_KEY: key, });
    try {
      await p.waitFor(/Ringside is running at https:/);
      const res = await new Promise<IncomingMessage>((resolve, reject) => {
        const req = https.request(`https://127.0.0.1:${port}/api/v1/session`, { method: 'POST', ca: readFileSync(cert), headers: { 'content-type': 'application/json' } }, resolve);
        req.on('error', reject);
        req.end(JSON.stringify({ email: 'alice@example.com', password: 'ringside-demo' }));
      });
      res.resume();
      expect(res.statusCode).toBe(200);
      // Over https the session cookie is Secure and __Host- prefixed (no sibling subdomain can set one).
      expect(res.headers['set-cookie']!.find((c) => c.startsWith('__Host-rs_session='))).toMatch(/; Secure/);
    } finally {
      await p.stop();
    }
  });
});
