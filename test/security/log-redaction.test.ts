/**
 * Review #21 (request logs): Fastify logged every request URL, including `/join/<token>` (a
 * bearer capability to call the host), `/sip?token=` and `/sip?invite=` (SIP connections) and the
 * OIDC callback's `code` and `state`. Logs travel further than the database; these parts of a URL
 * are now masked before a line is written.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { once } from 'node:events';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadConfig } from '../../src/config/index.ts';
import { Ringside } from '../../src/server.ts';
import { HttpClient } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

describe('request logs', () => {
  const lines: string[] = [];
  let ringside: Ringside;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'ringside-logs-'));
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(...String(chunk).split('\n').filter(Boolean));
        done();
      },
    });
    const config = loadConfig({ env: { HOST: '127.0.0.1', PORT: '0', SIP_PORT: '0', SIPS_PORT: '0', SIP_DOMAIN: '127.0.0.1', DATA_DIR: dataDir, MEDIA_PORT_MIN: '23000', MEDIA_PORT_MAX: '29999' } });
    ringside = await Ringside.start(config, { logger: pino({ level: 'info' }, sink) });
  });
  afterAll(async () => {
    await ringside?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('never contain a join token, a SIP token, an invite token or an OIDC code and state', async () => {
    const alice = new HttpClient(ringside.url);
    await alice.login('alice@example.com');
    const minute = Math.floor(Date.now() / 60_000) * 60_000;
    const inv = (await alice.request('POST', '/api/v1/invitations', { json: { email: 'guest@example.org', starts_at: new Date(minute + 60_000).toISOString(), ends_at: new Date(minute + 3_600_000).toISOString() } })).json().invitation;
    const joinToken = new URL(inv.link).pathname.split('/').pop()!;
    const sipToken = (await alice.request('POST', '/api/v1/sip-token')).json().token as string;
    const code = 'oidc-code-7f3a9c1e5b2d';
    const state = 'oidc-state-4e8b0a6f2c1d';

    expect((await fetch(`${ringside.url}/join/${joinToken}`)).status).toBe(200);
    await fetch(`${ringside.url}/auth/oidc/callback?code=${code}&state=${state}`);
    await fetch(`${ringside.url}/sip?token=${encodeURIComponent(sipToken)}`); // a plain GET: logged as a request
    const ws = new WebSocket(`${ringside.url.replace('http', 'ws')}/sip?invite=${joinToken}&name=Jane`, ['sip'], { headers: { origin: ringside.url } });
    await once(ws, 'open');
    ws.close();

    await waitFor(() => lines.some((l) => l.includes('/auth/oidc/callback')), { what: 'the callback request in the log' });
    const log = lines.join('\n');
    expect(log).toContain('/join/[redacted]');
    expect(log).toMatch(/code=\[redacted\]&state=\[redacted\]/);
    for (const secret of [joinToken, sipToken, encodeURIComponent(sipToken), code, state]) expect(log).not.toContain(secret);
  });
});
