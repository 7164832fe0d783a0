/**
 * Starts a real Ringside on 127.0.0.1 with a free port, a temporary data directory (or a fresh
 * PostgreSQL schema), silent logs; and a tiny browser-like HTTP client with a cookie jar.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { loadConfig } from '../../src/config/index.ts';
import { Ringside } from '../../src/server.ts';
import { dropPgSchema, freshPgSchema, TEST_DATABASE_URL, type EngineName } from './engines.ts';

export interface TestServer {
  ringside: Ringside;
  url: string;
  dataDir: string;
  /** The PostgreSQL schema, on that engine. */
  pgSchema?: string;
  /** Stops the server; the data directory is removed unless `keepData` (to start again on it). */
  stop(options?: { keepData?: boolean }): Promise<void>;
}

export async function startServer(options: { engine?: EngineName; env?: Record<string, string>; clock?: () => number; dataDir?: string; pgSchema?: string } = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? mkdtempSync(path.join(tmpdir(), 'ringside-test-'));
  const engine = options.engine ?? 'sqlite';
  // Another node on the same database: pass the first node's schema (and dataDir).
  const pgSchema = engine === 'postgres' ? (options.pgSchema ?? freshPgSchema()) : undefined;
  const config = loadConfig({
    env: {
      HOST: '127.0.0.1',
      PORT: '0',
      SIP_PORT: '0',
      SIPS_PORT: '0',
      SIP_DOMAIN: '127.0.0.1',
      SIP_T1_MS: '50',
      // Below Linux's ephemeral range (32768–60999) and apart from the relay tests' own ranges.
      MEDIA_PORT_MIN: '23000',
      MEDIA_PORT_MAX: '29999',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'silent',
      ...(engine === 'postgres' ? { DATABASE_URL: TEST_DATABASE_URL } : {}),
      ...options.env,
    },
  });
  const ringside = await Ringside.start(config, {
    logger: pino({ level: options.env?.LOG_LEVEL ?? 'silent' }),
    ...(pgSchema ? { pgSchema } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  return {
    ringside,
    url: ringside.url,
    dataDir,
    ...(pgSchema ? { pgSchema } : {}),
    async stop(stopOptions = {}) {
      await ringside.close();
      if (stopOptions.keepData) return;
      rmSync(dataDir, { recursive: true, force: true });
      if (pgSchema) await dropPgSchema(pgSchema);
    },
  };
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  text: string;
  json<T = any>(): T;
}

/** Fetch with a cookie jar, like one browser profile. */
export class HttpClient {
  private readonly cookies = new Map<string, string>();
  csrf = '';

  constructor(readonly baseUrl: string) {}

  async request(method: string, path: string, init: { json?: unknown; form?: Record<string, string>; body?: string; headers?: Record<string, string> } = {}): Promise<HttpResponse> {
    const headers: Record<string, string> = { ...init.headers };
    let body: string | undefined = init.body;
    if (init.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(init.json);
    } else if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    }
    if (this.cookies.size > 0) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    if (this.csrf && method !== 'GET' && !('x-csrf-token' in headers)) headers['x-csrf-token'] = this.csrf;
    const res = await fetch(this.baseUrl + path, { method, headers, body, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const [name, ...rest] = pair!.split('=');
      const value = rest.join('=');
      if (/Max-Age=0|Expires=Thu, 01 Jan 1970/i.test(c) || value === '') this.cookies.delete(name!.trim());
      else this.cookies.set(name!.trim(), value);
    }
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
  }

  get(path: string, headers?: Record<string, string>) {
    return this.request('GET', path, headers ? { headers } : {});
  }

  /** Signs in through the API and keeps the CSRF token for later requests. */
  async login(email: string, password = 'ringside-demo'): Promise<HttpResponse> {
    const res = await this.request('POST', '/api/v1/session', { json: { email, password } });
    if (res.status === 200) this.csrf = res.json().csrf_token;
    return res;
  }

  cookie(name: string): string | undefined {
    return this.cookies.get(name);
  }
}
