/**
 * The Salesforce REST client: OAuth 2.0 JWT bearer flow for the integration user (contract §1.1),
 * one cached token refreshed on 401 `INVALID_SESSION_ID` (replayed once, never looped), the API
 * budget read from `Sforce-Limit-Info` on every response (§2.3), and errors sorted into what a
 * retry can fix (5xx, dropped connections, `REQUEST_LIMIT_EXCEEDED`, `UNABLE_TO_LOCK_ROW`) and what
 * it cannot (configuration, validation).
 */
import { createPrivateKey, sign, type KeyObject } from 'node:crypto';

export type SalesforceErrorKind =
  /** The connected app, user or key is wrong (`invalid_grant`, `invalid_client_id`): alert, don't loop. */
  | 'config'
  /** The org cannot be reached or answered 5xx or nonsense: retry later (the outcome of a write is unknown). */
  | 'unavailable'
  /** The daily allocation is spent (`REQUEST_LIMIT_EXCEEDED`): retry later. */
  | 'limit'
  /** The org refused the request (4xx with an errorCode). */
  | 'api';

export class SalesforceError extends Error {
  constructor(
    readonly kind: SalesforceErrorKind,
    message: string,
    readonly status = 0,
    readonly errorCode: string | null = null,
    readonly body: unknown = null,
  ) {
    super(message);
    this.name = 'SalesforceError';
  }

  get retryable(): boolean {
    return this.kind === 'unavailable' || this.kind === 'limit' || this.errorCode === 'UNABLE_TO_LOCK_ROW';
  }
}

export interface ApiUsage {
  used: number;
  max: number;
  /** When the header was read (local clock). */
  at: number;
}

export interface SalesforceClientOptions {
  loginUrl: string;
  clientId: string;
  username: string;
  /** PEM of the connected app's private key. */
  privateKeyPem: string;
  apiVersion: string;
  /** Per request (the REST limit is 10 minutes; ours is shorter). */
  timeoutMs?: number;
  /** After `REQUEST_LIMIT_EXCEEDED`, no request is sent for this long (Salesforce gives no Retry-After). */
  limitPauseMs?: number;
  clock?: () => number;
}

export interface SfResponse<T> {
  status: number;
  body: T;
}

export class SalesforceClient {
  private readonly key: KeyObject;
  private readonly clock: () => number;
  private session: { accessToken: string; instanceUrl: string; userId: string | null } | undefined;
  private authenticating: Promise<NonNullable<SalesforceClient['session']>> | undefined;
  private pausedUntil = 0;
  /** The latest `Sforce-Limit-Info`. */
  usage: ApiUsage | undefined;
  /** Data API requests sent (each counts against the daily allocation). */
  apiCalls = 0;
  tokenRequests = 0;

  /** Throws a `config` SalesforceError when the key is not a usable private key. */
  constructor(private readonly options: SalesforceClientOptions) {
    try {
      this.key = createPrivateKey(options.privateKeyPem);
    } catch (err) {
      throw new SalesforceError('config', `SALESFORCE_PRIVATE_KEY_FILE is not a PEM private key (${(err as Error).message})`);
    }
    if (this.key.asymmetricKeyType !== 'rsa') throw new SalesforceError('config', 'SALESFORCE_PRIVATE_KEY_FILE must hold an RSA key (RS256)');
    this.clock = options.clock ?? Date.now;
  }

  get instanceUrl(): string | undefined {
    return this.session?.instanceUrl;
  }

  /** The integration user's Salesforce id (from the token's identity URL). */
  get userId(): string | null {
    return this.session?.userId ?? null;
  }

  get apiPrefix(): string {
    return `/services/data/v${this.options.apiVersion}`;
  }

  /** Until when requests are held back after `REQUEST_LIMIT_EXCEEDED` (0 when not). */
  get limitedUntil(): number {
    return this.pausedUntil > this.clock() ? this.pausedUntil : 0;
  }

  /** A token for the integration user: the cached one, or a new one from the JWT bearer flow. */
  async authenticate(force = false): Promise<NonNullable<SalesforceClient['session']>> {
    if (this.session && !force) return this.session;
    this.authenticating ??= this.requestToken().finally(() => {
      this.authenticating = undefined;
    });
    return this.authenticating;
  }

  private assertion(): string {
    const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const header = enc({ alg: 'RS256' });
    // `exp` in seconds, at most 3 minutes ahead (contract §1.1).
    const claims = enc({ iss: this.options.clientId, sub: this.options.username, aud: this.options.loginUrl, exp: Math.floor(this.clock() / 1000) + 150 });
    const signature = sign('sha256', Buffer.from(`${header}.${claims}`), this.key).toString('base64url');
    return `${header}.${claims}.${signature}`;
  }

  private async requestToken(): Promise<NonNullable<SalesforceClient['session']>> {
    this.tokenRequests++;
    let res: Response;
    try {
      res = await fetch(`${this.options.loginUrl}/services/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: this.assertion() }).toString(),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
      });
    } catch (err) {
      throw new SalesforceError('unavailable', `cannot reach SALESFORCE_LOGIN_URL ${this.options.loginUrl}: ${describe(err)}`);
    }
    const text = await res.text().catch(() => '');
    let body: Record<string, unknown> | null = null;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      body = null;
    }
    if (res.status >= 500 || body === null || typeof body !== 'object') {
      throw new SalesforceError('unavailable', `the token endpoint at ${this.options.loginUrl} answered ${res.status} without a token`, res.status);
    }
    if (res.status !== 200) {
      const error = String(body.error ?? 'error');
      const description = String(body.error_description ?? '');
      // Every invalid_grant of the JWT flow is a setup problem (contract §1.1): say which setting.
      throw new SalesforceError('config', `Salesforce refused the integration user's login: ${error} (${description})${hint(error, description)}`, res.status, error, body);
    }
    const accessToken = body.access_token;
    const instanceUrl = body.instance_url;
    if (typeof accessToken !== 'string' || typeof instanceUrl !== 'string' || !/^https?:\/\//.test(instanceUrl)) {
      throw new SalesforceError('unavailable', 'the token endpoint answered without access_token or instance_url');
    }
    const userId = typeof body.id === 'string' ? (body.id.split('/').pop() ?? null) : null;
    this.session = { accessToken, instanceUrl: instanceUrl.replace(/\/$/, ''), userId };
    return this.session;
  }

  /**
   * One REST request. `path` is relative to `/services/data/vXX.X` unless it starts with
   * `/services/` (a `nextRecordsUrl`). A 401 gets one new token and one replay.
   */
  async request<T = unknown>(method: string, path: string, init: { body?: unknown; headers?: Record<string, string> } = {}): Promise<SfResponse<T>> {
    if (this.pausedUntil > this.clock()) {
      throw new SalesforceError('limit', `Salesforce API requests paused after REQUEST_LIMIT_EXCEEDED until ${new Date(this.pausedUntil).toISOString()}`, 403, 'REQUEST_LIMIT_EXCEEDED');
    }
    let session = await this.authenticate();
    for (let attempt = 0; ; attempt++) {
      const res = await this.send(session, method, path, init);
      if (res.status === 401 && attempt === 0) {
        // The session timed out (no expiry is given: contract §1.1): a new token, one replay.
        if (this.session?.accessToken === session.accessToken) this.session = undefined;
        session = await this.authenticate();
        continue;
      }
      return this.interpret<T>(res);
    }
  }

  private async send(session: NonNullable<SalesforceClient['session']>, method: string, path: string, init: { body?: unknown; headers?: Record<string, string> }): Promise<{ status: number; text: string }> {
    const url = session.instanceUrl + (path.startsWith('/services/') ? path : this.apiPrefix + path);
    this.apiCalls++;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${session.accessToken}`,
          accept: 'application/json',
          ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...init.headers,
        },
        ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
      });
    } catch (err) {
      throw new SalesforceError('unavailable', `Salesforce request ${method} ${path.slice(0, 80)} failed: ${describe(err)}`);
    }
    this.readUsage(res.headers.get('sforce-limit-info'));
    const text = await res.text().catch(() => {
      throw new SalesforceError('unavailable', `Salesforce response to ${method} ${path.slice(0, 80)} was cut off`);
    });
    return { status: res.status, text };
  }

  /** `api-usage=10018/100000; api-bursts=…` — read leniently (contract §2.3). */
  private readUsage(header: string | null): void {
    const m = header ? /api-usage=(\d+)\/(\d+)/.exec(header) : null;
    if (m) this.usage = { used: Number(m[1]), max: Number(m[2]), at: this.clock() };
  }

  private interpret<T>(res: { status: number; text: string }): SfResponse<T> {
    let body: unknown = null;
    if (res.text !== '') {
      try {
        body = JSON.parse(res.text);
      } catch {
        throw new SalesforceError('unavailable', `Salesforce answered ${res.status} with a body that is not JSON`, res.status);
      }
    }
    if (res.status < 300) return { status: res.status, body: body as T };
    const first = Array.isArray(body) ? (body[0] as { errorCode?: unknown; message?: unknown } | undefined) : undefined;
    const errorCode = typeof first?.errorCode === 'string' ? first.errorCode : null;
    const message = `Salesforce ${res.status}${errorCode ? ` ${errorCode}` : ''}: ${typeof first?.message === 'string' ? first.message : res.text.slice(0, 200)}`;
    if (res.status === 403 && errorCode === 'REQUEST_LIMIT_EXCEEDED') {
      this.pausedUntil = this.clock() + (this.options.limitPauseMs ?? 60_000);
      throw new SalesforceError('limit', message, res.status, errorCode, body);
    }
    if (res.status >= 500) throw new SalesforceError('unavailable', message, res.status, errorCode, body);
    if (res.status === 401) throw new SalesforceError('unavailable', `${message} (again after a new token)`, res.status, errorCode, body);
    throw new SalesforceError('api', message, res.status, errorCode, body);
  }
}

function describe(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return 'timed out';
  return e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
}

function hint(error: string, description: string): string {
  if (error === 'invalid_client_id') return ': check SALESFORCE_CLIENT_ID (the connected app consumer key)';
  if (/audience/.test(description)) return ': check SALESFORCE_LOGIN_URL (login.salesforce.com, test.salesforce.com or the My Domain URL)';
  if (/approved/.test(description)) return ': pre-authorize the connected app for the integration user (docs/salesforce.md)';
  if (/expired/.test(description)) return ": check this server's clock";
  if (/authentication failure|user/.test(description)) return ': check SALESFORCE_USERNAME and that the certificate of SALESFORCE_PRIVATE_KEY_FILE is the one uploaded to the connected app';
  if (/assertion/.test(description)) return ': the certificate uploaded to the connected app does not match SALESFORCE_PRIVATE_KEY_FILE';
  return '';
}
