/**
 * A local Salesforce: an HTTP server on 127.0.0.1 that answers the calls of the contract
 * (`../shared/reference/salesforce-contract.md`), with its failure modes — the only Salesforce the
 * tests and the budget benchmark ever see. Keep it honest: what it accepts and refuses is what the
 * contract says an org accepts and refuses.
 *
 * - OAuth 2.0 JWT bearer token endpoint: RS256 signature checked against the connected app's
 *   certificate; `iss`, `sub`, `aud`, `exp` checked; tokens without expiry that die after an idle
 *   timeout on a controllable clock (401 `INVALID_SESSION_ID`).
 * - REST under `/services/data/vNN.N/`: limits, query / queryAll with query locators
 *   (`nextRecordsUrl`), SOSL search with the search-index lag for new and changed phone numbers,
 *   sObject create / read / update / delete / upsert by external ID, Composite and sObject
 *   Collections (one API call each), duplicate rules, restricted picklists and references checked.
 * - API budget: `Sforce-Limit-Info: api-usage=used/max` on every data response; at the daily
 *   maximum, 403 `REQUEST_LIMIT_EXCEEDED`. Every data request is counted (`apiCalls`).
 * - Injectable faults: 5xx before or after the write is done (the caller cannot tell), dropped
 *   connections, `UNABLE_TO_LOCK_ROW`.
 * - Test hooks as methods and under `/__admin/` (not Salesforce).
 */
import { createPublicKey, randomBytes, verify, type KeyObject } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EXTERNAL_ID_FIELD, objectDefs, PHONE_FIELDS, type FieldDef, type ObjectDef } from './schema.ts';
import { lightningPage, openCtiScript } from './lightning.ts';
import { conditionFields, parseSoql, parseSosl, SoqlError, type Condition, type Literal } from './soql.ts';

export interface StandInOptions {
  /** The connected app's consumer key (JWT `iss`). */
  clientId: string;
  /** PEM of the certificate uploaded to the connected app (or its public key). */
  certificate: string;
  /** Usernames pre-authorized for the app (JWT `sub`); each becomes an active User. */
  usernames: string[];
  /** Users that exist but have not approved the app. */
  unapprovedUsernames?: string[];
  /** Seconds until a new or changed phone number is searchable with SOSL (contract §3.3). */
  indexLagSeconds?: number;
  /** Daily API request allocation. */
  apiMax?: number;
  /** Idle timeout of access tokens (the org's session timeout), minutes. */
  sessionTimeoutMinutes?: number;
  /** Whether the setup guide's `Ringside_Call_Id__c` external-ID field exists. */
  externalIdField?: boolean;
  /** SOSL phone matching: whole numbers (digits equal) or the last N digits. */
  phoneMatch?: { mode: 'full' } | { mode: 'suffix'; digits: number };
  /** Random source for `fail5xxRate` (seeded in benchmarks). */
  random?: () => number;
}

export interface RequestLogEntry {
  at: number;
  method: string;
  path: string;
  /** For query and search: the statement. */
  q?: string;
  status: number;
  /** A request to the data API (counts against the daily allocation when it was served). */
  api: boolean;
  body?: unknown;
}

type Fault = { kind: 'status'; status: number; errorCode: string; message: string; after: boolean } | { kind: 'drop'; after: boolean };

interface StoredRecord {
  type: string;
  fields: Record<string, unknown>;
  /** SOSL index snapshots of the record's phone digits, each searchable from `at` on. */
  index: { at: number; digits: string[] }[];
}

class SfError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
    readonly fields: string[] = [],
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

const VERSION = /^\/services\/data\/v(\d+\.\d)(\/.*)?$/;
const ID_CHARS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export class SalesforceStandIn {
  readonly options: Required<Omit<StandInOptions, 'unapprovedUsernames'>> & { unapprovedUsernames: string[] };
  private server!: http.Server;
  private publicKey: KeyObject;
  private defs: Record<string, ObjectDef>;
  private records = new Map<string, StoredRecord>();
  private counter = 1;
  private offsetMs = 0;
  private tokens = new Map<string, { userId: string; lastUsed: number }>();
  private locators = new Map<string, { records: unknown[]; pos: number; size: number; total: number }>();
  private faults: { fault: Fault; count: number; match: (method: string, path: string) => boolean }[] = [];
  /** Share of data requests that fail with 503 (half before, half after doing the work). */
  fail5xxRate = 0;
  /** Calls used of the daily allocation. */
  apiUsed = 0;
  /** Every data request received (served or refused). */
  apiCalls = 0;
  tokenRequests = 0;
  readonly requests: RequestLogEntry[] = [];
  duplicateRule: { enabled: boolean; allowSave: boolean } = { enabled: false, allowSave: false };
  /** Returned (by id) when a token is issued: the org's users. */
  readonly users = new Map<string, string>();

  private constructor(options: StandInOptions) {
    this.options = {
      indexLagSeconds: 300,
      apiMax: 100_000,
      sessionTimeoutMinutes: 120,
      externalIdField: true,
      phoneMatch: { mode: 'full' },
      random: Math.random,
      unapprovedUsernames: [],
      ...options,
    };
    this.publicKey = createPublicKey(options.certificate);
    this.defs = objectDefs({ externalIdField: this.options.externalIdField });
  }

  static async start(options: StandInOptions): Promise<SalesforceStandIn> {
    const s = new SalesforceStandIn(options);
    s.seedUsers();
    s.server = http.createServer((req, res) => void s.handle(req, res));
    s.server.keepAliveTimeout = 1000;
    await new Promise<void>((resolve) => s.server.listen(0, '127.0.0.1', resolve));
    return s;
  }

  get url(): string {
    const a = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${a.port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ------------------------------------------------------------------ test hooks

  now(): number {
    return Date.now() + this.offsetMs;
  }

  /** Moves the org's clock (index lag, token idle timeout). */
  advance(seconds: number): void {
    this.offsetMs += seconds * 1000;
  }

  /** Ends every access token (as a session timeout or a password change would). */
  expireTokens(): void {
    this.tokens.clear();
  }

  /** The next `count` data requests matching `match` fail (default: any). */
  failNext(count: number, fault: Fault, match: (method: string, path: string) => boolean = () => true): void {
    this.faults.push({ fault, count, match });
  }

  /** Makes the daily allocation run out (or refills it). */
  setUsage(used: number, max = this.options.apiMax): void {
    this.apiUsed = used;
    this.options.apiMax = max;
  }

  /** Creates a record as someone working in Salesforce would (no API call counted). */
  seed(type: string, fields: Record<string, unknown>, options: { indexed?: boolean } = {}): string {
    const rec = this.create(type, fields, this.integrationUserId(), {});
    if (options.indexed) for (const s of rec.index) s.at = this.now();
    return rec.fields.Id as string;
  }

  /** Edits a record as someone in Salesforce would. */
  edit(id: string, fields: Record<string, unknown>): void {
    this.update(this.mustGet(id), fields, {});
  }

  /** Deletes a record (to the recycle bin: queryAll still sees it, with IsDeleted). */
  remove(id: string): void {
    const rec = this.mustGet(id);
    rec.fields.IsDeleted = true;
    rec.fields.SystemModstamp = this.now();
  }

  convertLead(id: string): void {
    const rec = this.mustGet(id);
    rec.fields.IsConverted = true;
    rec.fields.SystemModstamp = this.now();
    rec.fields.LastModifiedDate = this.now();
  }

  /** Live records of a type, as the API would return them (every field). */
  list(type: string): Record<string, unknown>[] {
    return [...this.records.values()].filter((r) => r.type === type && !r.fields.IsDeleted).map((r) => this.output(r, null));
  }

  get(id: string): Record<string, unknown> | undefined {
    const r = this.records.get(id);
    return r && !r.fields.IsDeleted ? this.output(r, null) : undefined;
  }

  userId(username: string): string {
    for (const [id, name] of this.users) if (name === username) return id;
    throw new Error(`no user ${username}`);
  }

  // ------------------------------------------------------------------ HTTP

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const entry: RequestLogEntry = { at: this.now(), method: req.method ?? 'GET', path: url.pathname, status: 0, api: false };
    const q = url.searchParams.get('q');
    if (q) entry.q = q;
    this.requests.push(entry);
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      entry.status = status;
      const text = body === undefined ? '' : JSON.stringify(body);
      res.writeHead(status, { ...(text ? { 'content-type': 'application/json;charset=UTF-8' } : {}), ...headers });
      res.end(text);
    };
    try {
      if (url.pathname === '/services/oauth2/token' && req.method === 'POST') return this.token(raw, send);
      if (req.method === 'GET' && this.browser(url, req.headers.host ?? '', res, send)) return;
      if (url.pathname.startsWith('/__admin/')) return this.admin(req.method ?? 'GET', url.pathname, raw, send);
      if (url.pathname === '/services/data' || url.pathname === '/services/data/') {
        return send(200, [{ label: "Winter '25", url: '/services/data/v62.0', version: '62.0' }]);
      }
      const m = VERSION.exec(url.pathname);
      if (!m) return send(404, [{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }]);
      entry.api = true;
      this.apiCalls++;
      let body: unknown = undefined;
      if (raw) {
        try {
          body = JSON.parse(raw);
        } catch {
          return send(400, [{ errorCode: 'JSON_PARSER_ERROR', message: 'Unexpected character in the request body' }]);
        }
        entry.body = body;
      }
      // Authentication first: a dead session is 401 whatever else is wrong.
      const auth = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
      const session = auth ? this.tokens.get(auth[1]!) : undefined;
      if (!session || this.now() - session.lastUsed > this.options.sessionTimeoutMinutes * 60_000) {
        if (auth) this.tokens.delete(auth[1]!);
        return send(401, [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }]);
      }
      session.lastUsed = this.now();
      const limitHeader = () => ({ 'sforce-limit-info': `api-usage=${this.apiUsed}/${this.options.apiMax}` });
      if (this.apiUsed >= this.options.apiMax) {
        return send(403, [{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }], limitHeader());
      }
      this.apiUsed++;
      const fault = this.takeFault(req.method ?? 'GET', m[2] ?? '/');
      if (fault && !fault.after) return this.applyFault(fault, res, send, limitHeader());
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k.toLowerCase(), String(v)]));
      const result = this.route(req.method ?? 'GET', m[2] ?? '/', url.searchParams, body, headers, session.userId, m[1]!);
      if (fault) return this.applyFault(fault, res, send, limitHeader());
      send(result.status, result.body, { ...limitHeader(), ...(result.headers ?? {}) });
    } catch (err) {
      if (err instanceof SfError) return send(err.status, [{ message: err.message, errorCode: err.errorCode, ...(err.fields.length ? { fields: err.fields } : {}), ...err.extra }]);
      send(500, [{ message: String((err as Error).message), errorCode: 'UNKNOWN_EXCEPTION' }]);
    }
  }

  private takeFault(method: string, path: string): Fault | undefined {
    const f = this.faults.find((x) => x.count > 0 && x.match(method, path));
    if (f) {
      f.count--;
      if (f.count === 0) this.faults.splice(this.faults.indexOf(f), 1);
      return f.fault;
    }
    if (this.fail5xxRate > 0 && this.options.random() < this.fail5xxRate) {
      return { kind: 'status', status: 503, errorCode: 'SERVER_UNAVAILABLE', message: 'Service temporarily unavailable', after: this.options.random() < 0.5 };
    }
    return undefined;
  }

  private applyFault(fault: Fault, res: ServerResponse, send: (s: number, b: unknown, h?: Record<string, string>) => void, headers: Record<string, string>): void {
    if (fault.kind === 'drop') {
      res.socket?.destroy();
      return;
    }
    send(fault.status, [{ message: fault.message, errorCode: fault.errorCode }], headers);
  }

  // ------------------------------------------------------------------ OAuth (contract §1.1)

  private token(raw: string, send: (s: number, b: unknown) => void): void {
    this.tokenRequests++;
    const form = new URLSearchParams(raw);
    const grant = form.get('grant_type');
    if (grant !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
      return send(400, { error: 'unsupported_grant_type', error_description: 'grant type not supported' });
    }
    const invalid = (d: string) => send(400, { error: 'invalid_grant', error_description: d });
    const parts = (form.get('assertion') ?? '').split('.');
    if (parts.length !== 3) return invalid('invalid assertion');
    let header: { alg?: string };
    let claims: { iss?: string; sub?: string; aud?: string; exp?: number };
    try {
      header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8'));
      claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
    } catch {
      return invalid('invalid assertion');
    }
    if (header.alg !== 'RS256') return invalid('invalid assertion');
    if (claims.iss !== this.options.clientId) return send(400, { error: 'invalid_client_id', error_description: 'client identifier invalid' });
    const signed = Buffer.from(`${parts[0]}.${parts[1]}`);
    if (!verify('sha256', signed, this.publicKey, Buffer.from(parts[2]!, 'base64url'))) return invalid('invalid assertion');
    if (claims.aud !== this.loginAudience()) return invalid('audience is invalid');
    const nowS = this.now() / 1000;
    if (typeof claims.exp !== 'number' || claims.exp <= nowS || claims.exp > nowS + 180 + 30) return invalid('expired authorization code');
    if (claims.sub && this.options.unapprovedUsernames.includes(claims.sub)) return invalid("user hasn't approved this consumer");
    if (!claims.sub || !this.options.usernames.includes(claims.sub)) return invalid('authentication failure');
    const userId = this.userId(claims.sub);
    const token = `00D5g000000AbCdEAK!${randomBytes(24).toString('base64url')}`;
    this.tokens.set(token, { userId, lastUsed: this.now() });
    send(200, { access_token: token, scope: 'api', instance_url: this.url, id: `${this.url}/id/00D5g000000AbCdEAK/${userId}`, token_type: 'Bearer' });
  }

  /** The login URL the org answers as (JWT `aud`). */
  loginAudience(): string {
    return this.url;
  }

  // ------------------------------------------------------------------ routing

  private route(
    method: string,
    path: string,
    params: URLSearchParams,
    body: unknown,
    headers: Record<string, string>,
    userId: string,
    version: string,
  ): { status: number; body?: unknown; headers?: Record<string, string> } {
    const seg = path.split('/').filter(Boolean).map(decodeURIComponent);
    const base = `/services/data/v${version}`;
    if (seg[0] === 'limits' && method === 'GET') {
      return { status: 200, body: { DailyApiRequests: { Max: this.options.apiMax, Remaining: Math.max(0, this.options.apiMax - this.apiUsed) } } };
    }
    if ((seg[0] === 'query' || seg[0] === 'queryAll') && method === 'GET') {
      if (seg[1]) return { status: 200, body: this.more(seg[1], base) };
      return { status: 200, body: this.query(params.get('q') ?? '', seg[0] === 'queryAll', base, headers['sforce-query-options']) };
    }
    if (seg[0] === 'search' && method === 'GET') return { status: 200, body: this.search(params.get('q') ?? '', base) };
    if (seg[0] === 'sobjects' && seg[1]) {
      const def = this.def(seg[1]);
      if (seg.length === 2 && method === 'POST') {
        const rec = this.create(def.name, this.bodyObject(body), userId, headers);
        return { status: 201, body: { id: rec.fields.Id, success: true, errors: [] } };
      }
      if (seg.length === 3) {
        const rec = this.records.get(seg[2]!);
        if (!rec || rec.type !== def.name || rec.fields.IsDeleted) throw new SfError(404, 'NOT_FOUND', 'The requested resource does not exist');
        if (method === 'GET') return { status: 200, body: this.output(rec, params.get('fields')?.split(',') ?? null, base) };
        if (method === 'PATCH') {
          this.update(rec, this.bodyObject(body), headers);
          return { status: 204 };
        }
        if (method === 'DELETE') {
          this.remove(rec.fields.Id as string);
          return { status: 204 };
        }
      }
      if (seg.length === 4) {
        const field = this.externalIdField(def, seg[2]!);
        if (method === 'PATCH') {
          const r = this.upsert(def, field, seg[3]!, this.bodyObject(body), userId, headers, false);
          return { status: r.created ? 201 : 200, body: { id: r.id, success: true, errors: [], created: r.created } };
        }
        if (method === 'GET') {
          const found = this.byExternalId(def, field, seg[3]!);
          if (found.length === 0) throw new SfError(404, 'NOT_FOUND', 'The requested resource does not exist');
          if (found.length > 1) return { status: 300, body: found.map((r) => `${base}/sobjects/${def.name}/${r.fields.Id}`) };
          return { status: 200, body: this.output(found[0]!, null, base) };
        }
      }
    }
    if (seg[0] === 'composite' && seg.length === 1 && method === 'POST') return { status: 200, body: this.composite(body, userId, version) };
    if (seg[0] === 'composite' && seg[1] === 'sobjects') {
      if (seg.length === 2 && method === 'POST') return { status: 200, body: this.collection(body, null, userId, headers) };
      if (seg.length === 4 && method === 'PATCH') {
        const def = this.def(seg[2]!);
        return { status: 200, body: this.collection(body, { def, field: this.externalIdField(def, seg[3]!) }, userId, headers) };
      }
    }
    throw new SfError(404, 'NOT_FOUND', 'The requested resource does not exist');
  }

  private def(name: string): ObjectDef {
    const def = Object.values(this.defs).find((d) => d.name.toLowerCase() === name.toLowerCase());
    if (!def) throw new SfError(404, 'NOT_FOUND', 'The requested resource does not exist');
    return def;
  }

  private externalIdField(def: ObjectDef, name: string): string {
    const field = Object.keys(def.fields).find((k) => k.toLowerCase() === name.toLowerCase());
    if (!field || !def.fields[field]!.externalId) throw new SfError(404, 'NOT_FOUND', 'The requested resource does not exist');
    return field;
  }

  private bodyObject(body: unknown): Record<string, unknown> {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new SfError(400, 'JSON_PARSER_ERROR', 'Expected a JSON object');
    return body as Record<string, unknown>;
  }

  // ------------------------------------------------------------------ records

  private seedUsers(): void {
    for (const username of [...this.options.usernames, ...this.options.unapprovedUsernames]) this.addUser(username, username);
  }

  /** An org user (to own activities); the email may differ from the username. */
  addUser(username: string, email: string, name = username.split('@')[0]!): string {
    const rec = this.create('User', { Username: username, Email: email, LastName: name, IsActive: true }, null, {});
    this.users.set(rec.fields.Id as string, username);
    return rec.fields.Id as string;
  }

  private integrationUserId(): string {
    return this.userId(this.options.usernames[0]!);
  }

  private newId(prefix: string): string {
    let n = this.counter++;
    let body = '';
    for (let i = 0; i < 9; i++) {
      body = ID_CHARS[n % 62] + body;
      n = Math.floor(n / 62);
    }
    const id15 = `${prefix}5g0${body}`;
    let suffix = '';
    for (let chunk = 0; chunk < 3; chunk++) {
      let flags = 0;
      for (let j = 0; j < 5; j++) if (/[A-Z]/.test(id15[chunk * 5 + j]!)) flags |= 1 << j;
      suffix += 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345'[flags];
    }
    return id15 + suffix;
  }

  private mustGet(id: string): StoredRecord {
    const rec = this.records.get(id);
    if (!rec) throw new Error(`no record ${id}`);
    return rec;
  }

  /** Checks and converts one JSON field value; throws SfError as the org would. */
  private coerce(def: ObjectDef, name: string, value: unknown, creating: boolean): [string, unknown] {
    const field = Object.keys(def.fields).find((k) => k.toLowerCase() === name.toLowerCase());
    const fd = field ? def.fields[field] : undefined;
    if (!field || !fd) throw new SfError(400, 'INVALID_FIELD', `No such column '${name}' on sobject of type ${def.name}`, [name]);
    if (creating ? !fd.createable : !fd.updateable) {
      throw new SfError(400, 'INVALID_FIELD_FOR_INSERT_UPDATE', `Unable to create/update fields: ${field}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.`, [field]);
    }
    if (value === null) return [field, null];
    const bad = (type: string) => new SfError(400, 'JSON_PARSER_ERROR', `Cannot deserialize instance of ${type} from ${JSON.stringify(value)} for ${field}`, [field]);
    switch (fd.type) {
      case 'boolean':
        if (typeof value !== 'boolean') throw bad('boolean');
        return [field, value];
      case 'int':
        if (typeof value !== 'number' || !Number.isInteger(value)) throw bad('int');
        return [field, value];
      case 'datetime': {
        const ms = typeof value === 'string' ? Date.parse(value) : NaN;
        if (!Number.isFinite(ms)) throw bad('datetime');
        return [field, ms];
      }
      case 'date':
        if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value)) throw bad('date');
        return [field, value];
      default: {
        if (typeof value !== 'string') throw bad('string');
        if (fd.length && value.length > fd.length) throw new SfError(400, 'STRING_TOO_LONG', `${field}: data value too large: ${value.slice(0, 40)}... (max length=${fd.length})`, [field]);
        if (fd.restricted && !fd.restricted.includes(value)) {
          throw new SfError(400, 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST', `${field}: bad value for restricted picklist field: ${value}`, [field]);
        }
        if (fd.type === 'reference' && fd.referenceTo) {
          const target = this.records.get(value);
          if (!target || target.fields.IsDeleted || !fd.referenceTo.includes(target.type)) {
            throw new SfError(400, 'INVALID_CROSS_REFERENCE_KEY', `invalid cross reference id`, [field]);
          }
        }
        return [field, value];
      }
    }
  }

  private create(type: string, input: Record<string, unknown>, ownerId: string | null, headers: Record<string, string>): StoredRecord {
    const def = this.def(type);
    const fields: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(input)) {
      if (k === 'attributes') continue;
      const [name, value] = this.coerce(def, k, v, true);
      fields[name] = value;
    }
    const missing = def.required.filter((r) => fields[r] === undefined || fields[r] === null || fields[r] === '');
    if (missing.length) throw new SfError(400, 'REQUIRED_FIELD_MISSING', `Required fields are missing: [${missing.join(', ')}]`, missing);
    this.validateActivity(def, fields, null);
    if (def.name === 'Contact') this.checkDuplicates(fields, headers);
    const ext = def.fields[EXTERNAL_ID_FIELD] ? fields[EXTERNAL_ID_FIELD] : undefined;
    if (typeof ext === 'string' && this.byExternalId(def, EXTERNAL_ID_FIELD, ext).length > 0) {
      const other = this.byExternalId(def, EXTERNAL_ID_FIELD, ext)[0]!;
      throw new SfError(400, 'DUPLICATE_VALUE', `duplicate value found: ${EXTERNAL_ID_FIELD} duplicates value on record with id: ${other.fields.Id}`, [EXTERNAL_ID_FIELD]);
    }
    const now = this.now();
    const id = this.newId(def.keyPrefix);
    if (def.name === 'Task') {
      fields.Status ??= 'Not Started';
      fields.Priority ??= 'Normal';
      fields.TaskSubtype ??= 'Task';
      if (fields.Status === 'Completed') fields.CompletedDateTime = now;
    }
    if (def.name === 'Lead') fields.IsConverted = false;
    if ('OwnerId' in def.fields && def.name !== 'User') fields.OwnerId ??= ownerId;
    const rec: StoredRecord = {
      type: def.name,
      fields: { ...fields, Id: id, IsDeleted: false, CreatedDate: now, LastModifiedDate: now, SystemModstamp: now, CreatedById: ownerId },
      index: [],
    };
    this.reindex(rec);
    this.records.set(id, rec);
    return rec;
  }

  private update(rec: StoredRecord, input: Record<string, unknown>, headers: Record<string, string>): void {
    const def = this.def(rec.type);
    const changes: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(input)) {
      if (k === 'attributes') continue;
      if (k.toLowerCase() === 'tasksubtype' && rec.type === 'Task') {
        // Set on create only (contract §5.1): the same value again is no change; another is refused.
        if (v === rec.fields.TaskSubtype) continue;
        throw new SfError(400, 'INVALID_FIELD_FOR_INSERT_UPDATE', 'Unable to create/update fields: TaskSubtype.', ['TaskSubtype']);
      }
      const [name, value] = this.coerce(def, k, v, false);
      changes[name] = value;
    }
    const merged = { ...rec.fields, ...changes };
    const missing = def.required.filter((r) => merged[r] === undefined || merged[r] === null || merged[r] === '');
    if (missing.length) throw new SfError(400, 'REQUIRED_FIELD_MISSING', `Required fields are missing: [${missing.join(', ')}]`, missing);
    this.validateActivity(def, merged, rec);
    void headers;
    const phonesBefore = this.phoneDigits(rec);
    const now = this.now();
    if (def.name === 'Task' && changes.Status === 'Completed' && rec.fields.Status !== 'Completed') merged.CompletedDateTime = now;
    rec.fields = { ...merged, LastModifiedDate: now, SystemModstamp: now };
    if (this.phoneDigits(rec).join() !== phonesBefore.join()) this.reindex(rec);
  }

  private validateActivity(def: ObjectDef, fields: Record<string, unknown>, _existing: StoredRecord | null): void {
    if (def.name !== 'Task' && def.name !== 'Event') return;
    const who = typeof fields.WhoId === 'string' ? this.records.get(fields.WhoId) : undefined;
    if (who?.type === 'Lead' && fields.WhatId) {
      throw new SfError(400, 'FIELD_INTEGRITY_EXCEPTION', 'Related To ID: id value of incorrect type', ['WhatId']);
    }
    if (def.name === 'Event' && fields.IsAllDayEvent !== true) {
      if (fields.StartDateTime == null) throw new SfError(400, 'REQUIRED_FIELD_MISSING', 'Required fields are missing: [StartDateTime]', ['StartDateTime']);
      if (fields.EndDateTime == null && fields.DurationInMinutes == null) {
        throw new SfError(400, 'REQUIRED_FIELD_MISSING', 'Required fields are missing: [DurationInMinutes]', ['DurationInMinutes']);
      }
      if (fields.EndDateTime != null && fields.DurationInMinutes != null) {
        const minutes = ((fields.EndDateTime as number) - (fields.StartDateTime as number)) / 60_000;
        if (minutes !== fields.DurationInMinutes) throw new SfError(400, 'FIELD_INTEGRITY_EXCEPTION', 'Duration and end time do not agree', ['DurationInMinutes']);
      }
    }
  }

  private phoneDigits(rec: StoredRecord): string[] {
    return (PHONE_FIELDS[rec.type] ?? []).map((f) => String(rec.fields[f] ?? '').replace(/\D/g, '')).filter(Boolean);
  }

  /** New or changed phone numbers become searchable after the index lag (contract §3.3). */
  private reindex(rec: StoredRecord): void {
    if (!PHONE_FIELDS[rec.type]) return;
    rec.index.push({ at: this.now() + this.options.indexLagSeconds * 1000, digits: this.phoneDigits(rec) });
  }

  private checkDuplicates(fields: Record<string, unknown>, headers: Record<string, string>): void {
    if (!this.duplicateRule.enabled) return;
    // The standard matching rule is fuzzy: phones compare by their last 10 digits, emails case-blind.
    const fuzzy = (p: unknown) => String(p ?? '').replace(/\D/g, '').slice(-10);
    const phone = fuzzy(fields.Phone);
    const email = String(fields.Email ?? '').toLowerCase();
    const match = [...this.records.values()].find(
      (r) =>
        r.type === 'Contact' &&
        !r.fields.IsDeleted &&
        ((phone.length >= 7 && fuzzy(r.fields.Phone) === phone) || (email && String(r.fields.Email ?? '').toLowerCase() === email)),
    );
    if (!match) return;
    const bypass = /allowSave\s*=\s*true/i.test(headers['sforce-duplicate-rule-header'] ?? '');
    if (this.duplicateRule.allowSave && bypass) return;
    const message = "You're creating a duplicate record. We recommend you use an existing record instead.";
    throw new SfError(400, 'DUPLICATES_DETECTED', message, [], {
      duplicateResut: {
        allowSave: this.duplicateRule.allowSave,
        duplicateRule: 'Standard_Contact_Duplicate_Rule',
        duplicateRuleEntityType: 'Contact',
        errorMessage: message,
        matchResults: [
          {
            entityType: 'Contact',
            errors: [],
            matchEngine: 'FuzzyMatchEngine',
            matchRecords: [
              {
                additionalInformation: [],
                fieldDiffs: [],
                matchConfidence: 100.0,
                record: { attributes: { type: 'Contact', url: `/services/data/v62.0/sobjects/Contact/${match.fields.Id}` }, Id: match.fields.Id },
              },
            ],
            rule: 'Standard_Contact_Match_Rule_v1_1',
            size: 1,
            success: true,
          },
        ],
      },
    });
  }

  private byExternalId(def: ObjectDef, field: string, value: string): StoredRecord[] {
    return [...this.records.values()].filter((r) => r.type === def.name && !r.fields.IsDeleted && r.fields[field] === value);
  }

  private upsert(def: ObjectDef, field: string, value: string, input: Record<string, unknown>, userId: string, headers: Record<string, string>, inCollection: boolean): { id: string; created: boolean } {
    for (const k of Object.keys(input)) {
      // The key goes in the URL (single upsert) or in the record (collections); never `Id` in the body.
      if (k.toLowerCase() === 'id' || (!inCollection && k.toLowerCase() === field.toLowerCase())) {
        throw new SfError(400, 'INVALID_FIELD', `${k} is not allowed in the body of an upsert by ${field}`, [k]);
      }
    }
    const found = this.byExternalId(def, field, value);
    if (found.length > 1) throw new SfError(300, 'MULTIPLE_CHOICES', `More than one record found for ${field}=${value}`);
    const rest = Object.fromEntries(Object.entries(input).filter(([k]) => k.toLowerCase() !== field.toLowerCase()));
    if (found.length === 1) {
      this.update(found[0]!, rest, headers);
      return { id: found[0]!.fields.Id as string, created: false };
    }
    const rec = this.create(def.name, { ...rest, [field]: value }, userId, headers);
    return { id: rec.fields.Id as string, created: true };
  }

  private output(rec: StoredRecord, fields: string[] | null, base = '/services/data/v62.0'): Record<string, unknown> {
    const def = this.def(rec.type);
    const names = fields ? fields.map((f) => this.fieldName(def, f.trim())) : Object.keys(def.fields);
    const out: Record<string, unknown> = { attributes: { type: rec.type, url: `${base}/sobjects/${rec.type}/${rec.fields.Id}` } };
    for (const n of names) out[n] = this.value(rec, n);
    return out;
  }

  private value(rec: StoredRecord, name: string): unknown {
    if (name === 'Name' && (rec.type === 'Contact' || rec.type === 'Lead' || rec.type === 'User')) {
      return [rec.fields.FirstName, rec.fields.LastName].filter(Boolean).join(' ');
    }
    const fd = this.def(rec.type).fields[name];
    const v = rec.fields[name];
    if (v === undefined || v === null) return fd?.type === 'boolean' ? false : null;
    if (fd?.type === 'datetime') return new Date(v as number).toISOString().replace('Z', '+0000');
    return v;
  }

  private fieldName(def: ObjectDef, name: string): string {
    const field = Object.keys(def.fields).find((k) => k.toLowerCase() === name.toLowerCase());
    if (!field) throw new SfError(400, 'INVALID_FIELD', `No such column '${name}' on entity '${def.name}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name.`);
    return field;
  }

  // ------------------------------------------------------------------ query (contract §3.3, checklist 12)

  private query(q: string, all: boolean, base: string, options: string | undefined): unknown {
    const parsed = this.parse(() => parseSoql(q));
    const def = this.def(parsed.sobject);
    const fields = parsed.fields.map((f) => this.fieldName(def, f));
    this.checkCondition(def, parsed.where);
    const order = parsed.orderBy.map((o) => ({ field: this.fieldName(def, o.field), desc: o.desc }));
    let rows = [...this.records.values()].filter((r) => r.type === def.name && (all || !r.fields.IsDeleted) && this.matches(r, parsed.where));
    if (order.length) {
      rows.sort((a, b) => {
        for (const o of order) {
          const c = compareValues(a.fields[o.field], b.fields[o.field]);
          if (c !== 0) return o.desc ? -c : c;
        }
        return 0;
      });
    }
    if (parsed.limit !== null) rows = rows.slice(0, parsed.limit);
    if (parsed.count) return { totalSize: rows.length, done: true, records: [] };
    const records = rows.map((r) => this.output(r, fields, base));
    const m = /batchSize=(\d+)/.exec(options ?? '');
    const size = Math.min(2000, Math.max(200, m ? Number(m[1]) : 2000));
    return this.page({ records, pos: 0, size, total: records.length }, base);
  }

  private page(cursor: { records: unknown[]; pos: number; size: number; total: number }, base: string): unknown {
    const records = cursor.records.slice(cursor.pos, cursor.pos + cursor.size);
    cursor.pos += records.length;
    const done = cursor.pos >= cursor.records.length;
    const out: Record<string, unknown> = { totalSize: cursor.total, done, records };
    if (!done) {
      const locator = `01g5g00000${randomBytes(4).toString('hex')}`;
      this.locators.set(locator, cursor);
      out.nextRecordsUrl = `${base}/query/${locator}-${cursor.pos}`;
    }
    return out;
  }

  private more(locatorPart: string, base: string): unknown {
    const m = /^(01g[0-9A-Za-z]+)-(\d+)$/.exec(locatorPart);
    const cursor = m ? this.locators.get(m[1]!) : undefined;
    if (!m || !cursor || Number(m[2]) !== cursor.pos) throw new SfError(400, 'INVALID_QUERY_LOCATOR', 'invalid query locator');
    this.locators.delete(m[1]!);
    return this.page(cursor, base);
  }

  private parse<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof SoqlError) throw new SfError(400, err.errorCode, err.message);
      throw err;
    }
  }

  private checkCondition(def: ObjectDef, c: Condition | null): void {
    for (const f of conditionFields(c)) this.fieldName(def, f);
    const visit = (x: Condition | null) => {
      if (!x) return;
      if (x.kind === 'and' || x.kind === 'or') return x.parts.forEach(visit);
      if (x.kind === 'not') return visit(x.part);
      const fd = def.fields[this.fieldName(def, x.field)]!;
      const values = x.kind === 'in' ? x.values : x.kind === 'compare' ? [x.value] : [];
      for (const v of values) {
        if (v.kind === 'null') continue;
        const want = fd.type === 'datetime' ? 'datetime' : fd.type === 'date' ? 'date' : fd.type === 'boolean' ? 'boolean' : fd.type === 'int' ? 'number' : 'string';
        if (v.kind !== want) {
          throw new SfError(400, 'INVALID_FIELD', `value of filter criterion for field '${x.field}' must be of type ${want === 'datetime' ? 'dateTime and should not be enclosed in quotes' : want}`);
        }
      }
    };
    visit(c);
  }

  private matches(rec: StoredRecord, c: Condition | null): boolean {
    if (!c) return true;
    const get = (field: string) => {
      const name = this.fieldName(this.def(rec.type), field);
      return name === 'Name' ? this.value(rec, 'Name') : rec.fields[name] ?? (this.def(rec.type).fields[name]?.type === 'boolean' ? false : null);
    };
    switch (c.kind) {
      case 'and':
        return c.parts.every((p) => this.matches(rec, p));
      case 'or':
        return c.parts.some((p) => this.matches(rec, p));
      case 'not':
        return !this.matches(rec, c.part);
      case 'in': {
        const v = get(c.field);
        const hit = c.values.some((l) => compareValues(v, literalValue(l)) === 0 && (v !== null || l.kind === 'null'));
        return c.negated ? !hit : hit;
      }
      case 'like': {
        const v = get(c.field);
        if (typeof v !== 'string') return false;
        const re = new RegExp(`^${c.pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/%/g, '.*').replace(/_/g, '.')}$`, 'is');
        return re.test(v);
      }
      case 'compare': {
        const v = get(c.field);
        const l = literalValue(c.value);
        if (l === null || v === null) {
          const same = (l === null) === (v === null);
          return c.op === '=' ? same : c.op === '!=' ? !same : false;
        }
        const cmp = compareValues(v, l);
        switch (c.op) {
          case '=':
            return cmp === 0;
          case '!=':
            return cmp !== 0;
          case '<':
            return cmp < 0;
          case '>':
            return cmp > 0;
          case '<=':
            return cmp <= 0;
          case '>=':
            return cmp >= 0;
        }
      }
    }
  }

  // ------------------------------------------------------------------ search (contract §3.1, checklist 9–10)

  private search(q: string, base: string): unknown {
    const parsed = this.parse(() => parseSosl(q));
    const terms = parsed.terms.map((t) => t.replace(/\D/g, '')).filter(Boolean);
    const now = this.now();
    const out: unknown[] = [];
    for (const r of parsed.returning) {
      const def = this.def(r.sobject);
      const fields = r.fields.map((f) => this.fieldName(def, f));
      this.checkCondition(def, r.where);
      let hits = [...this.records.values()].filter((rec) => {
        if (rec.type !== def.name || rec.fields.IsDeleted) return false;
        const visible = rec.index.filter((s) => s.at <= now).at(-1);
        return !!visible && visible.digits.some((d) => terms.some((t) => this.phoneMatches(d, t))) && this.matches(rec, r.where);
      });
      if (r.limit !== null) hits = hits.slice(0, r.limit);
      out.push(...hits.map((h) => this.output(h, fields, base)));
    }
    return { searchRecords: out.slice(0, 2000) };
  }

  private phoneMatches(stored: string, term: string): boolean {
    const m = this.options.phoneMatch;
    if (m.mode === 'full') return stored === term;
    return stored.length >= m.digits && term.length >= m.digits && stored.slice(-m.digits) === term.slice(-m.digits);
  }

  // ------------------------------------------------------------------ composite (contract §6)

  private snapshot(): () => void {
    const saved = new Map([...this.records].map(([id, r]) => [id, { type: r.type, fields: { ...r.fields }, index: r.index.map((s) => ({ ...s })) }]));
    const counter = this.counter;
    return () => {
      this.records = saved;
      this.counter = counter;
    };
  }

  private composite(body: unknown, userId: string, version: string): unknown {
    const b = this.bodyObject(body) as { allOrNone?: boolean; compositeRequest?: unknown };
    if (!Array.isArray(b.compositeRequest)) throw new SfError(400, 'JSON_PARSER_ERROR', 'compositeRequest is required');
    if (b.compositeRequest.length > 25) throw new SfError(400, 'LIMIT_EXCEEDED', 'Exceeded max limit of subrequests allowed (25)');
    const subs = b.compositeRequest as { method?: string; url?: string; referenceId?: string; body?: unknown; httpHeaders?: Record<string, string> }[];
    const restore = b.allOrNone ? this.snapshot() : undefined;
    const results: { body: unknown; httpHeaders: Record<string, string>; httpStatusCode: number; referenceId: string }[] = [];
    const byRef = new Map<string, { status: number; body: unknown }>();
    let failed = false;
    for (const sub of subs) {
      const referenceId = String(sub.referenceId ?? '');
      if (failed && b.allOrNone) {
        results.push({ body: [{ errorCode: 'PROCESSING_HALTED', message: 'The transaction was rolled back since another operation in the same transaction failed.' }], httpHeaders: {}, httpStatusCode: 400, referenceId });
        continue;
      }
      let status: number;
      let resBody: unknown;
      let headers: Record<string, string> = {};
      try {
        const resolve = (s: string) =>
          s.replace(/@\{([A-Za-z0-9_]+)\.([^}]+)\}/g, (_m, ref: string, path: string) => {
            const prior = byRef.get(ref);
            const v = prior && prior.status < 300 ? pick(prior.body, path) : undefined;
            if (v === undefined) throw new SfError(400, 'PROCESSING_HALTED', `Invalid reference specified. No value for ${ref}.${path} found in ${ref}.`);
            return String(v);
          });
        const url = resolve(String(sub.url ?? ''));
        const m = /^\/services\/data\/v(\d+\.\d)(\/[^?]*)(\?.*)?$/.exec(url);
        if (!m) throw new SfError(400, 'INVALID_URL', `invalid url ${url}`);
        const subBody = sub.body === undefined ? undefined : mapStrings(sub.body, resolve);
        const subHeaders = Object.fromEntries(Object.entries(sub.httpHeaders ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]));
        const r = this.route(String(sub.method ?? 'GET').toUpperCase(), m[2]!, new URLSearchParams(m[3] ?? ''), subBody, subHeaders, userId, m[1] ?? version);
        status = r.status;
        resBody = r.body ?? null;
        headers = r.headers ?? {};
      } catch (err) {
        if (!(err instanceof SfError)) throw err;
        status = err.status;
        resBody = [{ message: err.message, errorCode: err.errorCode, ...(err.fields.length ? { fields: err.fields } : {}), ...err.extra }];
      }
      if (status >= 400) failed = true;
      byRef.set(referenceId, { status, body: resBody });
      results.push({ body: resBody, httpHeaders: headers, httpStatusCode: status, referenceId });
    }
    if (failed && restore) {
      restore();
      for (const r of results) {
        if (r.httpStatusCode < 400) {
          r.httpStatusCode = 400;
          r.body = [{ errorCode: 'PROCESSING_HALTED', message: 'The transaction was rolled back since another operation in the same transaction failed.' }];
        }
      }
    }
    return { compositeResponse: results };
  }

  private collection(body: unknown, upsert: { def: ObjectDef; field: string } | null, userId: string, headers: Record<string, string>): unknown {
    const b = this.bodyObject(body) as { allOrNone?: boolean; records?: unknown };
    if (!Array.isArray(b.records)) throw new SfError(400, 'JSON_PARSER_ERROR', 'records is required');
    if (b.records.length > 200) throw new SfError(400, 'EXCEEDED_ID_LIMIT', 'record limit reached. cannot submit more than 200 records into this call');
    const restore = b.allOrNone ? this.snapshot() : undefined;
    const results: Record<string, unknown>[] = [];
    for (const item of b.records as Record<string, unknown>[]) {
      try {
        const attributes = item?.attributes as { type?: string } | undefined;
        if (!attributes?.type) throw new SfError(400, 'INVALID_FIELD', 'No type was specified in attributes', ['attributes']);
        if (upsert) {
          if (this.def(attributes.type).name !== upsert.def.name) throw new SfError(400, 'INVALID_TYPE', `Records must be of type ${upsert.def.name}`);
          const key = item[upsert.field];
          if (typeof key !== 'string' || key === '') throw new SfError(400, 'MISSING_ARGUMENT', `${upsert.field} not specified`, [upsert.field]);
          const r = this.upsert(upsert.def, upsert.field, key, item, userId, headers, true);
          results.push({ id: r.id, success: true, errors: [], created: r.created });
        } else {
          if ('Id' in item || 'id' in item) throw new SfError(400, 'INVALID_FIELD', 'cannot specify Id in an insert call', ['Id']);
          const rec = this.create(attributes.type, item, userId, headers);
          results.push({ id: rec.fields.Id, success: true, errors: [] });
        }
      } catch (err) {
        if (!(err instanceof SfError)) throw err;
        results.push({ success: false, errors: [{ statusCode: err.errorCode, message: err.message, fields: err.fields, ...err.extra }] });
      }
    }
    if (restore && results.some((r) => !r.success)) {
      restore();
      return results.map((r) =>
        r.success
          ? { success: false, errors: [{ statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK', message: 'Record rolled back because not all records were valid and the request was using AllOrNone header', fields: [] }] }
          : r,
      );
    }
    return results;
  }

  // ------------------------------------------------------------------ admin (not Salesforce)

  // ------------------------------------------------------------------ browser side (contract §7, checklist 19)

  /** The Lightning page, the Open CTI script and what the page asks of the org; false for anything else. */
  private browser(url: URL, host: string, res: ServerResponse, send: (s: number, b: unknown) => void): boolean {
    const origin = `http://${host}`;
    const raw = (type: string, body: string) => {
      res.writeHead(200, { 'content-type': `${type}; charset=utf-8`, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (/^\/support\/api\/\d+\.\d\/lightning\/opencti_min\.js$/.test(url.pathname)) {
      raw('text/javascript', openCtiScript(origin));
      return true;
    }
    const page = /^\/lightning\/r\/(\w+)\/(\w+)\/view$/.exec(url.pathname);
    if (page && url.searchParams.get('softphone')) {
      raw('text/html', lightningPage({ recordId: page[2]!, softphoneUrl: url.searchParams.get('softphone')!, pageOrigin: origin }));
      return true;
    }
    const record = /^\/__admin\/cti\/record\/(\w+)$/.exec(url.pathname);
    if (record) {
      const rec = this.records.get(record[1]!);
      if (!rec || rec.fields.IsDeleted) {
        send(404, { error: 'no such record' });
        return true;
      }
      const id = String(rec.fields.Id);
      const phones = (PHONE_FIELDS[rec.type] ?? []).filter((f) => rec.fields[f]).map((f) => ({ field: f, value: String(rec.fields[f]) }));
      const tasks = this.list('Task').filter((t) => t.WhoId === id || t.WhatId === id);
      send(200, { id, type: rec.type, name: this.value(rec, 'Name'), phones, tasks });
      return true;
    }
    if (url.pathname === '/__admin/cti/search') {
      send(200, this.ctiSearch(url.searchParams.get('q') ?? ''));
      return true;
    }
    return false;
  }

  /** `searchAndScreenPop`: the phone fields of contacts, leads and accounts, through the search index (with its lag). */
  ctiSearch(term: string): { Id: string; Name: unknown; RecordType: string; LastModifiedDate: string }[] {
    const digits = term.replace(/\D/g, '');
    if (digits.length < 3) return [];
    const now = this.now();
    const terms = [digits, ...(digits.length === 11 && digits.startsWith('1') ? [digits.slice(1)] : digits.length === 10 ? [`1${digits}`] : [])];
    return [...this.records.values()]
      .filter((rec) => ['Contact', 'Lead', 'Account'].includes(rec.type) && !rec.fields.IsDeleted && !(rec.type === 'Lead' && rec.fields.IsConverted))
      .filter((rec) => rec.index.filter((x) => x.at <= now).at(-1)?.digits.some((d) => terms.some((t) => this.phoneMatches(d, t))))
      .map((rec) => ({ Id: String(rec.fields.Id), Name: this.value(rec, 'Name'), RecordType: rec.type, LastModifiedDate: new Date(now).toISOString() }));
  }

  private admin(method: string, path: string, raw: string, send: (s: number, b: unknown) => void): void {
    const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    if (path === '/__admin/requests' && method === 'GET') return send(200, this.requests);
    if (path === '/__admin/clock' && method === 'POST') {
      this.advance(Number(body.advanceSeconds ?? 0));
      return send(200, { now: new Date(this.now()).toISOString() });
    }
    if (path === '/__admin/tokens/expire' && method === 'POST') {
      this.expireTokens();
      return send(204, undefined);
    }
    if (path === '/__admin/faults' && method === 'POST') {
      this.failNext(Number(body.count ?? 1), { kind: 'status', status: Number(body.status ?? 503), errorCode: String(body.errorCode ?? 'SERVER_UNAVAILABLE'), message: 'Injected fault', after: body.after === true });
      return send(204, undefined);
    }
    if (path === '/__admin/seed' && method === 'POST') {
      const id = this.seed(String(body.type), (body.fields ?? {}) as Record<string, unknown>);
      return send(201, { id });
    }
    send(404, { error: 'unknown admin hook' });
  }
}

function literalValue(l: Literal): unknown {
  switch (l.kind) {
    case 'null':
      return null;
    case 'datetime':
      return l.value;
    default:
      return l.value;
  }
}

function compareValues(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return -1;
  if (b === null || b === undefined) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function pick(body: unknown, path: string): unknown {
  let v: unknown = body;
  for (const part of path.split('.')) {
    const m = /^([^[]+)((?:\[\d+\])*)$/.exec(part);
    if (!m) return undefined;
    v = (v as Record<string, unknown> | null)?.[m[1]!];
    for (const idx of m[2]!.match(/\d+/g) ?? []) v = (v as unknown[] | null)?.[Number(idx)];
  }
  return v;
}

function mapStrings(v: unknown, fn: (s: string) => string): unknown {
  if (typeof v === 'string') return fn(v);
  if (Array.isArray(v)) return v.map((x) => mapStrings(x, fn));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, mapStrings(x, fn)]));
  return v;
}

export { EXTERNAL_ID_FIELD, PHONE_FIELDS };
