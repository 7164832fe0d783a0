/**
 * Review #4 and the DEMO_PASSWORD part of #21 (issue 13 item 9): the demo organisation has a
 * published password — web login and SIP device password alike, admin@example.com included — and
 * used to be seeded into any empty database, on any address, with the password printed at every
 * start. Now it is seeded only while every listener is on loopback, or with an explicit
 * SEED_DEMO=true that refuses the default DEMO_PASSWORD before anything listens; no log line ever
 * holds a password.
 *
 * Tests bind loopback only: the "exposed" branch is decided from configuration values, so it is
 * checked on the decision itself with addresses that are never bound.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.ts';
import { demoSeeding } from '../../src/demo/policy.ts';
import { Ringside } from '../../src/server.ts';
import { freePort } from '../support/process.ts';
import { HttpClient } from '../support/server.ts';
import { TestPhone } from '../support/sip-phone.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const LOOPBACK_TEST_ENV = { HOST: '127.0.0.1', PORT: '0', SIP_PORT: '0', SIPS_PORT: '0', SIP_DOMAIN: '127.0.0.1', MEDIA_PORT_MIN: '23000', MEDIA_PORT_MAX: '29999' };

/** Starts Ringside on loopback with its log captured (info level: everything an operator sees). */
async function start(env: Record<string, string>): Promise<{ ringside: Ringside; log: () => string }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'rs-seed-'));
  dirs.push(dataDir);
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const config = loadConfig({ env: { ...LOOPBACK_TEST_ENV, DATA_DIR: dataDir, ...env } });
  const ringside = await Ringside.start(config, { logger: pino({ level: 'info' }, sink) });
  return { ringside, log: () => lines.join('') };
}

const decide = (env: Record<string, string>) => demoSeeding(loadConfig({ env }));

describe('the decision to seed the demo organisation', () => {
  it('seeds while HTTP, SIP and media all listen on loopback (127.0.0.2 too)', () => {
    expect(decide({})).toEqual({ seed: true });
    expect(decide({ SIP_HOST: '127.0.0.2', MEDIA_BIND_ADDRESS: '127.0.0.3' })).toEqual({ seed: true });
    expect(decide({ HOST: 'localhost', SIP_HOST: '::1' })).toEqual({ seed: true });
  });

  it.each([
    [{ HOST: '0.0.0.0' }, 'HOST=0.0.0.0'],
    [{ HOST: '::' }, 'HOST=::'],
    [{ HOST: 'ringside.corp.example' }, 'HOST=ringside.corp.example'],
    [{ SIP_HOST: '203.0.113.10' }, 'SIP_HOST=203.0.113.10'],
    [{ MEDIA_BIND_ADDRESS: '192.0.2.7' }, 'MEDIA_BIND_ADDRESS=192.0.2.7'],
  ])('does not seed when a listener is reachable from elsewhere: %j', (env, named) => {
    const decision = decide(env);
    expect(decision.seed).toBe(false);
    expect('reason' in decision && decision.reason).toContain(named);
  });

  it('seeds on an exposed host only when asked, and only with a password of the operator’s own', () => {
    expect(decide({ HOST: '0.0.0.0', SEED_DEMO: 'true', DEMO_PASSWORD: 'our-own-demo-pw' })).toEqual({ seed: true });
    expect(decide({ SEED_DEMO: 'true' })).toMatchObject({ seed: false, refusal: expect.stringContaining('DEMO_PASSWORD') });
    expect(decide({ SEED_DEMO: 'false' })).toMatchObject({ seed: false });
  });
});

describe('a server', () => {
  it('refuses to start, before anything listens, with SEED_DEMO=true and the published password', async () => {
    const port = await freePort();
    await expect(start({ SEED_DEMO: 'true', PORT: String(port) })).rejects.toThrow(/SEED_DEMO=true needs a DEMO_PASSWORD of your own/);
    const connected = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    expect(connected).toBe(false);
  });

  it('seeds with the operator’s DEMO_PASSWORD, never logs it, and the published one opens nothing (web or SIP)', async () => {
    const { ringside, log } = await start({ SEED_DEMO: 'true', DEMO_PASSWORD: 'our-own-demo-pw' });
    try {
      expect(log()).toContain('seeded the demo organisation');
      expect(log()).not.toContain('our-own-demo-pw');
      expect(log()).not.toContain('ringside-demo');
      const client = new HttpClient(ringside.url);
      expect((await client.login('admin@example.com', 'ringside-demo')).status).toBe(401);
      expect((await client.login('admin@example.com', 'our-own-demo-pw')).status).toBe(200);
      const server = { address: '127.0.0.1', port: ringside.sip.ports.udp! };
      const guessed = await TestPhone.start({ user: 'admin', password: 'ringside-demo', domain: '127.0.0.1', server });
      const known = await TestPhone.start({ user: 'admin', password: 'our-own-demo-pw', domain: '127.0.0.1', server });
      try {
        expect((await guessed.register()).status).toBe(403);
        expect((await known.register()).status).toBe(200); // demo users keep DEMO_PASSWORD as device password
      } finally {
        await guessed.close();
        await known.close();
      }
    } finally {
      await ringside.close();
    }
  });

  it('on a laptop (all loopback) seeds the demo users, whose desk phones sign in with the demo password, and logs no password', async () => {
    const { ringside, log } = await start({});
    try {
      expect(log()).toContain('seeded the demo organisation');
      expect(log()).not.toContain('ringside-demo');
      const phone = await TestPhone.start({ user: 'alice', password: 'ringside-demo', domain: '127.0.0.1', server: { address: '127.0.0.1', port: ringside.sip.ports.udp! } });
      try {
        expect((await phone.register()).status).toBe(200);
      } finally {
        await phone.close();
      }
    } finally {
      await ringside.close();
    }
  });
});
