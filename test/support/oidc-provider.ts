/**
 * Identity providers for the single sign-on tests, on 127.0.0.1 only.
 *
 * `OidcTestProvider` is a real OpenID Connect provider (the `oidc-provider` package) with its own
 * login and consent pages: any password signs in an account listed in `accounts`. It listens
 * first (so Ringside can be started with its issuer URL) and is configured with Ringside's
 * redirect URI once Ringside runs.
 *
 * `HostileProvider` is a tiny provider that signs its own ID tokens with `jose`, each issuer path
 * with one flaw (wrong audience, expired, tampered, wrong nonce, another issuer, a key not in its
 * JWKS) — or none, for the replay test. Its authorization endpoint answers at once, no login page,
 * as if the user had just typed a password: its ID tokens say `auth_time` now (an account's
 * `claims` may say otherwise — an old `auth_time`, a provider that ignores `prompt=login`).
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import Provider, { type ClientMetadata } from 'oidc-provider';

export interface TestAccount {
  email: string;
  email_verified?: boolean;
  name?: string;
  groups?: string[];
}

function listen(server: http.Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
  });
}

function close(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

export class OidcTestProvider {
  private handler: http.RequestListener | undefined;
  private readonly server: http.Server;
  /** Accounts by login (their email); add more at any time. */
  readonly accounts = new Map<string, TestAccount>();

  private constructor(readonly issuer: string, server: http.Server) {
    this.server = server;
  }

  static async listen(): Promise<OidcTestProvider> {
    let self: OidcTestProvider | undefined;
    const server = http.createServer((req, res) => {
      if (!self?.handler) {
        res.writeHead(503).end('not configured yet');
        return;
      }
      self.handler(req, res);
    });
    self = new OidcTestProvider(await listen(server), server);
    return self;
  }

  /** Starts answering, with these clients (Ringside's redirect URI in each). */
  configure(clients: ClientMetadata[]): void {
    const accounts = this.accounts;
    const provider = new Provider(this.issuer, {
      clients,
      // Scope claims in the ID token itself (by default they go to the userinfo endpoint only).
      conformIdTokenClaims: false,
      // Groups with the profile, as an administrator sets it up (a Keycloak mapper, Okta's groups claim).
      claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'groups'] },
      features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
      pkce: { required: () => true },
      cookies: { keys: [randomBytes(16).toString('hex')] },
      async findAccount(_ctx, id) {
        const account = accounts.get(id);
        if (!account) return undefined;
        return {
          accountId: id,
          async claims() {
            return {
              sub: `sub-${createHash('sha256').update(id).digest('hex').slice(0, 16)}`,
              email: account.email,
              email_verified: account.email_verified ?? true,
              name: account.name ?? account.email,
              ...(account.groups ? { groups: account.groups } : {}),
            };
          },
        };
      },
    });
    this.handler = provider.callback();
  }

  close(): Promise<void> {
    return close(this.server);
  }
}

export type Flaw = 'none' | 'wrong-audience' | 'expired' | 'tampered' | 'wrong-nonce' | 'wrong-issuer' | 'unknown-key';

interface PendingCode {
  nonce: string;
  challenge: string;
  clientId: string;
  email: string;
  emailVerified: boolean;
  claims?: Record<string, unknown>;
}

/** A provider per issuer path `/<flaw>`, e.g. `http://127.0.0.1:PORT/expired`. */
export class HostileProvider {
  private readonly codes = new Map<string, PendingCode>();
  /** Who signs in at each path (default `dana@acme.test`, verified); `claims` go into the ID token too. */
  readonly accountOf = new Map<string, { email: string; emailVerified: boolean; claims?: Record<string, unknown> }>();
  /** The authorization requests received, oldest first (what Ringside asked for: `prompt`, `max_age`…). */
  readonly authorizeRequests: URL[] = [];

  private constructor(
    readonly url: string,
    private readonly server: http.Server,
    private readonly key: { privateKey: CryptoKey; jwk: JWK },
    private readonly strangerKey: CryptoKey,
  ) {}

  static async listen(): Promise<HostileProvider> {
    const pair = await generateKeyPair('RS256');
    const stranger = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    let self: HostileProvider | undefined;
    const server = http.createServer((req, res) => {
      self!.handle(req, res).catch((err: unknown) => {
        res.writeHead(500).end(String(err));
      });
    });
    self = new HostileProvider(await listen(server), server, { privateKey: pair.privateKey, jwk }, stranger.privateKey);
    return self;
  }

  issuer(path: string): string {
    return `${this.url}/${path}`;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const [, path, ...rest] = url.pathname.split('/');
    const endpoint = rest.join('/');
    const issuer = this.issuer(path!);
    const flaw = (path!.split('-as-')[0] ?? 'none') as Flaw;
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };

    if (endpoint === '.well-known/openid-configuration') {
      return json(200, {
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
        code_challenge_methods_supported: ['S256'],
        token_endpoint_auth_methods_supported: ['client_secret_basic'],
      });
    }
    if (endpoint === 'jwks') return json(200, { keys: [this.key.jwk] });
    if (endpoint === 'authorize') {
      this.authorizeRequests.push(url);
      const code = randomBytes(16).toString('base64url');
      const account = this.accountOf.get(path!) ?? { email: 'dana@acme.test', emailVerified: true };
      this.codes.set(code, {
        nonce: url.searchParams.get('nonce') ?? '',
        challenge: url.searchParams.get('code_challenge') ?? '',
        clientId: url.searchParams.get('client_id') ?? '',
        email: account.email,
        emailVerified: account.emailVerified,
        ...(account.claims ? { claims: account.claims } : {}),
      });
      const back = new URL(url.searchParams.get('redirect_uri')!);
      back.searchParams.set('code', code);
      back.searchParams.set('state', url.searchParams.get('state') ?? '');
      res.writeHead(302, { location: back.href }).end();
      return;
    }
    if (endpoint === 'token' && req.method === 'POST') {
      let body = '';
      for await (const chunk of req) body += String(chunk);
      const form = new URLSearchParams(body);
      const pending = this.codes.get(form.get('code') ?? '');
      this.codes.delete(form.get('code') ?? '');
      const verifier = form.get('code_verifier') ?? '';
      if (!pending || createHash('sha256').update(verifier).digest('base64url') !== pending.challenge) return json(400, { error: 'invalid_grant' });
      const now = Math.floor(Date.now() / 1000);
      const claims = {
        iss: flaw === 'wrong-issuer' ? `${this.url}/somebody-else` : issuer,
        sub: `hostile-${pending.email}`,
        aud: flaw === 'wrong-audience' ? 'another-client' : pending.clientId,
        iat: flaw === 'expired' ? now - 7200 : now,
        exp: flaw === 'expired' ? now - 3600 : now + 300,
        nonce: flaw === 'wrong-nonce' ? 'not-the-nonce' : pending.nonce,
        auth_time: now,
        email: pending.email,
        email_verified: pending.emailVerified,
        name: 'Dana Hostile',
        ...pending.claims,
      };
      let idToken = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
        .sign(flaw === 'unknown-key' ? this.strangerKey : this.key.privateKey);
      if (flaw === 'tampered') {
        // Same header and signature, a payload that says someone else: the signature no longer fits.
        const [header, , signature] = idToken.split('.');
        const forged = Buffer.from(JSON.stringify({ ...claims, email: 'admin@acme.test', sub: 'hostile-admin' })).toString('base64url');
        idToken = `${header}.${forged}.${signature}`;
      }
      return json(200, { access_token: randomBytes(16).toString('base64url'), token_type: 'Bearer', expires_in: 300, id_token: idToken });
    }
    res.writeHead(404).end();
  }

  close(): Promise<void> {
    return close(this.server);
  }
}
