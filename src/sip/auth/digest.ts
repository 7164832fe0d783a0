/**
 * HTTP Digest authentication for SIP (RFC 3261 §22, RFC 2617, RFC 7616 algorithms, RFC 8760 for
 * SIP): the server's challenges and verification, and the client's answer (for trunks that
 * challenge us, and for tests).
 *
 * Challenges offer SHA-256 first, then MD5 (RFC 8760 §2.4: a UAC picks the first it supports);
 * clients known to stop at a first algorithm they cannot speak get MD5 alone (the authenticator
 * decides). A captured Authorization cannot be replayed:
 * - `qop=auth` is required (an RFC 2069 response has no nonce count, so nothing stops a replay);
 * - each nonce's nc must grow, in a table with a hard cap whose eviction retires the evicted
 *   nonces for good (an attacker cannot flush it to replay again);
 * - nonces are stateless (issue time + HMAC) but bound to this process (node id and boot): the
 *   nonce-count table is per process, so a nonce another node (or this node before a restart)
 *   issued gets a fresh challenge instead of being trusted;
 * - the digest `uri` must name the Request-URI, or this server itself (SIPp puts our address
 *   there), never another destination (RFC 2617 §3.2.2.5).
 * The server holds HA1 values (hash of user:realm:password), never device passwords.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { parseUri, type SipRequest, type SipUri } from '../message/index.ts';

export type DigestAlgorithm = 'MD5' | 'SHA-256';

const HASH: Record<DigestAlgorithm, string> = { MD5: 'md5', 'SHA-256': 'sha256' };

function h(algorithm: DigestAlgorithm, text: string): string {
  return createHash(HASH[algorithm]).update(text, 'utf8').digest('hex');
}

/** HA1 = H(username:realm:password) (RFC 7616 §3.4.2): what the server stores instead of a password. */
export function digestHa1(algorithm: DigestAlgorithm, username: string, realm: string, password: string): string {
  return h(algorithm, `${username}:${realm}:${password}`);
}

/** A user's stored digest secrets: the realm they were made for and one HA1 per algorithm. */
export interface DigestHa1 {
  realm: string;
  MD5: string;
  'SHA-256': string;
}

/** `Digest realm="x", nonce="y", qop="auth"` → scheme and lower-cased parameter names. */
export function parseAuthHeader(value: string): { scheme: string; params: Map<string, string> } {
  const m = /^\s*([A-Za-z][A-Za-z0-9-]*)\s*(.*)$/s.exec(value);
  const params = new Map<string, string>();
  if (!m) return { scheme: '', params };
  const text = m[2]!;
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /[\s,]/.test(text[i]!)) i++;
    const nameStart = i;
    while (i < text.length && /[A-Za-z0-9_-]/.test(text[i]!)) i++;
    const name = text.slice(nameStart, i).toLowerCase();
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (!name || text[i] !== '=') {
      // Not name=value: skip to the next comma so garbage cannot loop us.
      while (i < text.length && text[i] !== ',') i++;
      continue;
    }
    i++;
    while (i < text.length && /\s/.test(text[i]!)) i++;
    let value = '';
    if (text[i] === '"') {
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\' && i + 1 < text.length) i++;
        value += text[i];
        i++;
      }
      i++;
    } else {
      const start = i;
      while (i < text.length && text[i] !== ',' && !/\s/.test(text[i]!)) i++;
      value = text.slice(start, i);
    }
    if (!params.has(name)) params.set(name, value);
  }
  return { scheme: m[1]!.toLowerCase(), params };
}

export type DigestVerdict =
  | { kind: 'ok'; username: string; algorithm: DigestAlgorithm }
  /** No credentials for our realm: challenge. */
  | { kind: 'missing' }
  /** Right password on a nonce we no longer track (expired, another node's, before a restart): challenge again with stale=true. */
  | { kind: 'stale'; username: string }
  /** Wrong password, unknown user, replayed or malformed credentials. */
  | { kind: 'failed'; username?: string; reason: string };

export interface DigestServerOptions {
  realm: string;
  /** Key for the nonce HMAC. */
  secret: string;
  /** This node's name (NODE_ID): a nonce is good only on the node (and run) that issued it. */
  node?: string;
  /**
   * Host names and addresses that name this server (SIP_DOMAIN, the listen and advertised
   * addresses): a digest `uri` without a user part may name one of them instead of the Request-URI.
   */
  ownHosts?: readonly string[];
  nonceTtlMs?: number;
  algorithms?: DigestAlgorithm[];
  /** Most nonces whose count is tracked at once (a hard cap; the oldest are retired beyond it). */
  maxNonces?: number;
  clock?: () => number;
}

export class DigestServer {
  readonly realm: string;
  private readonly algorithms: DigestAlgorithm[];
  private readonly ttl: number;
  private readonly clock: () => number;
  private readonly maxNonces: number;
  /** Tag of this node and run in every nonce we issue (a hash: node names may hold any character). */
  private readonly instance: string;
  private readonly ownHosts: Set<string>;
  /**
   * Highest nc seen per nonce (keyed by the nonce's MAC), with the nonce's issue time. Only
   * successful authentications add entries, and at most `maxNonces` of them.
   */
  private readonly counts = new Map<string, { nc: number; issued: number }>();
  /** Nonces issued at or before this time are refused as stale: their counts may have been evicted. */
  private retiredUpTo = -Infinity;

  constructor(private readonly options: DigestServerOptions) {
    this.realm = options.realm;
    this.algorithms = options.algorithms ?? ['SHA-256', 'MD5'];
    this.ttl = options.nonceTtlMs ?? 5 * 60_000;
    this.clock = options.clock ?? Date.now;
    this.maxNonces = options.maxNonces ?? 200_000;
    this.instance = createHash('sha256').update(`${options.node ?? ''}|${randomBytes(16).toString('hex')}`).digest('base64url').slice(0, 8);
    this.ownHosts = new Set([options.realm, ...(options.ownHosts ?? [])].map(normaliseHost));
  }

  /** One challenge per algorithm, SHA-256 first (or only the algorithms given, for clients that need it). */
  challenges(stale = false, only?: DigestAlgorithm[]): string[] {
    const nonce = this.newNonce();
    // A client that knows only some algorithms gets those; if the operator allows none of them,
    // it gets what is allowed (and fails to answer) rather than no challenge at all.
    const wanted = only ? this.algorithms.filter((a) => only.includes(a)) : [];
    return (wanted.length > 0 ? wanted : this.algorithms).map(
      (algorithm) => `Digest realm="${this.realm}", nonce="${nonce}", algorithm=${algorithm}, qop="auth"${stale ? ', stale=true' : ''}`,
    );
  }

  /** How many nonce counts are tracked (for tests and metrics). */
  get trackedNonces(): number {
    return this.counts.size;
  }

  private newNonce(): string {
    const payload = `${this.clock().toString(36)}.${randomBytes(6).toString('base64url')}.${this.instance}`;
    return `${payload}.${this.sign(payload)}`;
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.options.secret).update(`${payload}|${this.realm}`).digest('base64url').slice(0, 22);
  }

  /**
   * The username the credentials in `header` claim — the very ones `verify` checks (our realm's
   * Digest), so a failure counter keyed on it cannot be sidestepped by a second header or a
   * look-alike parameter.
   */
  claimedUsername(request: SipRequest, header: 'Authorization' | 'Proxy-Authorization'): string | undefined {
    return this.credentialsIn(request, header)?.params.get('username');
  }

  private credentialsIn(request: SipRequest, header: 'Authorization' | 'Proxy-Authorization'): { scheme: string; params: Map<string, string> } | undefined {
    return request
      .headerValues(header)
      .map(parseAuthHeader)
      .find((a) => a.scheme === 'digest' && a.params.get('realm') === this.realm);
  }

  /**
   * Checks the credentials of `request` in `header`, asking `ha1Of` for the user's stored HA1
   * values (one lookup, no password ever leaves the store).
   */
  async verify(
    request: SipRequest,
    header: 'Authorization' | 'Proxy-Authorization',
    ha1Of: (username: string) => Promise<DigestHa1 | undefined>,
  ): Promise<DigestVerdict> {
    const mine = this.credentialsIn(request, header);
    if (!mine) return { kind: 'missing' };
    const p = mine.params;
    const username = p.get('username');
    const nonce = p.get('nonce');
    const uri = p.get('uri');
    const response = p.get('response');
    const algorithm = (p.get('algorithm') ?? 'MD5').toUpperCase() as DigestAlgorithm;
    if (!username || !nonce || !uri || !response) return { kind: 'failed', ...(username ? { username } : {}), reason: 'incomplete credentials' };
    if (!this.algorithms.includes(algorithm)) return { kind: 'failed', username, reason: `unsupported algorithm ${algorithm}` };

    // qop=auth only: without it (RFC 2069) there is no nonce count, hence no replay protection.
    const qop = p.get('qop');
    const nc = p.get('nc');
    const cnonce = p.get('cnonce');
    if (qop !== 'auth' || !nc || !cnonce || !/^[0-9a-fA-F]{8}$/.test(nc)) {
      return { kind: 'failed', username, reason: qop ? 'bad qop parameters' : 'qop=auth required (RFC 2069 responses are refused)' };
    }

    const parts = nonce.split('.');
    if (parts.length !== 4 || !safeEqual(this.sign(`${parts[0]}.${parts[1]}.${parts[2]}`), parts[3]!)) {
      return { kind: 'failed', username, reason: 'nonce not issued by us' };
    }
    const issued = Number.parseInt(parts[0]!, 36);
    if (!Number.isFinite(issued)) return { kind: 'failed', username, reason: 'nonce not issued by us' };

    // https://www.rfc-editor.org/rfc/rfc2617#section-3.2.2.5: the uri must be the request's.
    if (!this.uriNamesRequest(uri, request)) return { kind: 'failed', username, reason: 'digest uri names another destination' };

    const stored = await ha1Of(username);
    if (stored === undefined) return { kind: 'failed', username, reason: 'unknown user' };
    if (stored.realm !== this.realm) return { kind: 'failed', username, reason: `device password was set for realm ${stored.realm}: reset it` };
    const ha2 = h(algorithm, `${request.method}:${uri}`);
    const expected = h(algorithm, `${stored[algorithm]}:${nonce}:${nc}:${cnonce}:auth:${ha2}`);
    if (!safeEqual(expected, response.toLowerCase())) return { kind: 'failed', username, reason: 'wrong password' };

    // Right password from here on: a nonce we cannot vouch for gets a fresh challenge.
    if (parts[2] !== this.instance || issued <= this.retiredUpTo || this.clock() - issued > this.ttl) return { kind: 'stale', username };
    const count = Number.parseInt(nc, 16);
    const key = parts[3]!;
    const seen = this.counts.get(key);
    if (seen && count <= seen.nc) return { kind: 'failed', username, reason: 'replayed nonce count' };
    if (seen) seen.nc = count;
    else this.track(key, count, issued);
    return { kind: 'ok', username, algorithm };
  }

  private track(key: string, nc: number, issued: number): void {
    if (this.counts.size >= this.maxNonces) this.makeRoom();
    this.counts.set(key, { nc, issued });
  }

  /**
   * Frees a tenth of the table: expired nonces first, then the oldest tracked ones. Every nonce
   * evicted before its expiry is retired with all older ones (`retiredUpTo`), so a count can
   * never be forgotten while its nonce is still accepted.
   */
  private makeRoom(): void {
    const cutoff = this.clock() - this.ttl;
    for (const [key, v] of this.counts) if (v.issued < cutoff) this.counts.delete(key);
    let toFree = Math.ceil(this.maxNonces / 10) - (this.maxNonces - this.counts.size);
    for (const [key, v] of this.counts) {
      if (toFree-- <= 0) break;
      this.counts.delete(key);
      if (v.issued > this.retiredUpTo) this.retiredUpTo = v.issued;
    }
  }

  /**
   * The digest `uri` names the Request-URI (same user, same host or both ours), or — without a
   * user part — this server itself or the Request-URI's host.
   */
  private uriNamesRequest(text: string, request: SipRequest): boolean {
    const digestUri = digestUriOf(text);
    const requestUri = request.uri;
    if (!digestUri || !requestUri.isSip) return false;
    const own = (u: SipUri) => this.ownHosts.has(normaliseHost(u.host));
    const sameHost = digestUri.hostname === requestUri.hostname;
    if (digestUri.user === undefined) return own(digestUri) || (sameHost && requestUri.user === undefined);
    if (digestUri.decodedUser !== requestUri.decodedUser) return false;
    return sameHost || (own(digestUri) && own(requestUri));
  }
}

/** `sip:host:port`, or SIPp's bare `host:port`; undefined when it is no SIP URI. */
function digestUriOf(text: string): SipUri | undefined {
  for (const candidate of /^sips?:/i.test(text) ? [text] : [`sip:${text}`]) {
    try {
      const u = parseUri(candidate);
      if (u.isSip) return u;
    } catch {
      // not this form
    }
  }
  return undefined;
}

function normaliseHost(host: string): string {
  const lower = host.toLowerCase();
  return lower.startsWith('[') ? lower.slice(1, -1) : lower;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export interface DigestCredentials {
  username: string;
  password: string;
}

/**
 * The client side: the Authorization / Proxy-Authorization value answering `challenge` (the
 * value of a WWW-Authenticate / Proxy-Authenticate header).
 */
export function answerChallenge(
  challenge: string,
  request: { method: string; uri: string },
  credentials: DigestCredentials,
  state: { nc: number; cnonce?: string } = { nc: 1 },
): string {
  const { params } = parseAuthHeader(challenge);
  const realm = params.get('realm') ?? '';
  const nonce = params.get('nonce') ?? '';
  const algorithm = ((params.get('algorithm') ?? 'MD5').toUpperCase() === 'SHA-256' ? 'SHA-256' : 'MD5') as DigestAlgorithm;
  const qops = (params.get('qop') ?? '').split(',').map((q) => q.trim());
  const ha1 = h(algorithm, `${credentials.username}:${realm}:${credentials.password}`);
  const ha2 = h(algorithm, `${request.method}:${request.uri}`);
  const opaque = params.get('opaque');
  const common = `Digest username="${credentials.username}", realm="${realm}", nonce="${nonce}", uri="${request.uri}", algorithm=${algorithm}`;
  if (qops.includes('auth')) {
    const nc = state.nc.toString(16).padStart(8, '0');
    const cnonce = state.cnonce ?? randomBytes(8).toString('hex');
    const response = h(algorithm, `${ha1}:${nonce}:${nc}:${cnonce}:auth:${ha2}`);
    return `${common}, response="${response}", qop=auth, nc=${nc}, cnonce="${cnonce}"${opaque ? `, opaque="${opaque}"` : ''}`;
  }
  return `${common}, response="${h(algorithm, `${ha1}:${nonce}:${ha2}`)}"${opaque ? `, opaque="${opaque}"` : ''}`;
}
