/**
 * HTTP Digest authentication for SIP (RFC 3261 §22, RFC 2617, RFC 7616 algorithms, RFC 8760 for
 * SIP): the server's challenges and verification, and the client's answer (for trunks that
 * challenge us, and for tests).
 *
 * Challenges offer MD5 first, then SHA-256: browser SIP libraries read only the first
 * WWW-Authenticate and speak only MD5; RFC 8760 §2.4 lets a UAC pick the strongest it knows.
 * Nonces are stateless (issue time + HMAC), expire (then `stale=true`), and each nonce's nc must
 * grow, so a captured response cannot be replayed.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { SipRequest } from '../message/index.ts';

export type DigestAlgorithm = 'MD5' | 'SHA-256';

const HASH: Record<DigestAlgorithm, string> = { MD5: 'md5', 'SHA-256': 'sha256' };

function h(algorithm: DigestAlgorithm, text: string): string {
  return createHash(HASH[algorithm]).update(text, 'utf8').digest('hex');
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
  /** Right password on an expired nonce: challenge again with stale=true. */
  | { kind: 'stale'; username: string }
  /** Wrong password, unknown user, replayed or malformed credentials. */
  | { kind: 'failed'; username?: string; reason: string };

export interface DigestServerOptions {
  realm: string;
  /** Key for the nonce HMAC; shared by the nodes so any node can check any nonce. */
  secret: string;
  nonceTtlMs?: number;
  algorithms?: DigestAlgorithm[];
  clock?: () => number;
}

export class DigestServer {
  readonly realm: string;
  private readonly algorithms: DigestAlgorithm[];
  private readonly ttl: number;
  private readonly clock: () => number;
  /** Highest nc seen per nonce (replay protection); nonces are short-lived, so this stays small. */
  private readonly counts = new Map<string, { nc: number; at: number }>();

  constructor(private readonly options: DigestServerOptions) {
    this.realm = options.realm;
    this.algorithms = options.algorithms ?? ['MD5', 'SHA-256'];
    this.ttl = options.nonceTtlMs ?? 5 * 60_000;
    this.clock = options.clock ?? Date.now;
  }

  /** One challenge per algorithm, MD5 first (or only the algorithms given, for clients that need it). */
  challenges(stale = false, only?: DigestAlgorithm[]): string[] {
    const nonce = this.newNonce();
    return (only ? this.algorithms.filter((a) => only.includes(a)) : this.algorithms).map(
      (algorithm) => `Digest realm="${this.realm}", nonce="${nonce}", algorithm=${algorithm}, qop="auth"${stale ? ', stale=true' : ''}`,
    );
  }

  private newNonce(): string {
    const payload = `${this.clock().toString(36)}.${randomBytes(6).toString('base64url')}`;
    return `${payload}.${this.sign(payload)}`;
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.options.secret).update(`${payload}|${this.realm}`).digest('base64url').slice(0, 22);
  }

  /** Checks the credentials of `request` in `header`, asking `passwordOf` for the user's password. */
  async verify(
    request: SipRequest,
    header: 'Authorization' | 'Proxy-Authorization',
    passwordOf: (username: string) => Promise<string | undefined>,
  ): Promise<DigestVerdict> {
    const mine = request
      .headerValues(header)
      .map(parseAuthHeader)
      .find((a) => a.scheme === 'digest' && a.params.get('realm') === this.realm);
    if (!mine) return { kind: 'missing' };
    const p = mine.params;
    const username = p.get('username');
    const nonce = p.get('nonce');
    const uri = p.get('uri');
    const response = p.get('response');
    const algorithm = (p.get('algorithm') ?? 'MD5').toUpperCase() as DigestAlgorithm;
    if (!username || !nonce || !uri || !response) return { kind: 'failed', ...(username ? { username } : {}), reason: 'incomplete credentials' };
    if (!this.algorithms.includes(algorithm)) return { kind: 'failed', username, reason: `unsupported algorithm ${algorithm}` };

    const parts = nonce.split('.');
    if (parts.length !== 3 || !safeEqual(this.sign(`${parts[0]}.${parts[1]}`), parts[2]!)) {
      return { kind: 'failed', username, reason: 'nonce not issued by us' };
    }
    const issued = Number.parseInt(parts[0]!, 36);

    const password = await passwordOf(username);
    if (password === undefined) return { kind: 'failed', username, reason: 'unknown user' };
    const qop = p.get('qop');
    const nc = p.get('nc');
    const cnonce = p.get('cnonce');
    const ha1 = h(algorithm, `${username}:${this.realm}:${password}`);
    const ha2 = h(algorithm, `${request.method}:${uri}`);
    let expected: string;
    if (qop) {
      if (qop !== 'auth' || !nc || !cnonce || !/^[0-9a-fA-F]{8}$/.test(nc)) return { kind: 'failed', username, reason: 'bad qop parameters' };
      expected = h(algorithm, `${ha1}:${nonce}:${nc}:${cnonce}:${qop}:${ha2}`);
    } else {
      expected = h(algorithm, `${ha1}:${nonce}:${ha2}`); // RFC 2069 compatibility
    }
    if (!safeEqual(expected, response.toLowerCase())) return { kind: 'failed', username, reason: 'wrong password' };
    if (this.clock() - issued > this.ttl) return { kind: 'stale', username };
    if (qop) {
      const count = Number.parseInt(nc!, 16);
      const seen = this.counts.get(nonce);
      if (seen && count <= seen.nc) return { kind: 'failed', username, reason: 'replayed nonce count' };
      this.counts.set(nonce, { nc: count, at: this.clock() });
      if (this.counts.size > 50_000) this.pruneCounts();
    }
    return { kind: 'ok', username, algorithm };
  }

  private pruneCounts(): void {
    const cutoff = this.clock() - this.ttl;
    for (const [nonce, v] of this.counts) if (v.at < cutoff) this.counts.delete(nonce);
  }
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
