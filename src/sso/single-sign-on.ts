/**
 * Single sign-on with OpenID Connect: the authorization code flow with PKCE, `state` and `nonce`
 * (https://openid.net/specs/openid-connect-core-1_0.html#CodeFlowAuth), by `openid-client`.
 *
 * `start` remembers what the answer will be checked against — in the database, under the hash of
 * a random value that only this browser holds (a cookie) — and sends the browser to the provider.
 * `finish` takes that record once (a replayed answer finds nothing), lets openid-client check the
 * answer and the ID token (issuer, audience, expiry, nonce, signature against the provider's JWKS),
 * finds or creates the user, and opens an ordinary Ringside session: the one the widget's SIP
 * WebSocket, the REST API and the softphone token all accept.
 *
 * A sign-in may ask the provider to check the user afresh (`reauth`: `prompt=login` and
 * `max_age=0`, OpenID Connect Core §3.1.2.1) — a provider whose own session is still alive in the
 * browser would otherwise pass anyone at that browser through. The session keeps the ID token's
 * `auth_time`: "signed in recently" means the provider asked for the password recently.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import * as oidc from 'openid-client';
import type { OidcProviderConfig } from '../config/oidc.ts';
import { nowIso, type Session, type Store, type User } from '../store/index.ts';
import { hashToken, type SessionStore, type UserDirectory } from '../users/index.ts';
import { SsoAccounts, type IdentityClaims } from './accounts.ts';
import { SsoError } from './errors.ts';
import { OidcProviders } from './providers.ts';

/** How long a sign-in may take at the provider (typing a password, a second factor). */
const PENDING_TTL_MS = 10 * 60_000;

/**
 * For a sign-in that asked for a fresh authentication: how old the ID token's `auth_time` may be
 * when its answer arrives — the redirect back and the token request, plus clocks a little apart
 * (openid-client's own `maxAge: 0` check allows 30 s, which a consent page after the password can exceed).
 */
const REAUTH_MAX_AGE_MS = 60_000;

export const CALLBACK_PATH = '/auth/oidc/callback';

export interface SsoLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface SingleSignOnOptions {
  store: Store;
  users: UserDirectory;
  sessions: SessionStore;
  providers: readonly OidcProviderConfig[];
  /** Server secret: signs the signed-out ticket. */
  secret: string;
  clock?: () => number;
}

export interface SsoSignedIn {
  user: User;
  created: boolean;
  token: string;
  session: Session;
  next: string;
}

export class SingleSignOn {
  readonly providers: OidcProviders;
  private readonly accounts: SsoAccounts;
  private readonly clock: () => number;

  constructor(private readonly options: SingleSignOnOptions) {
    this.providers = new OidcProviders(options.providers);
    this.clock = options.clock ?? Date.now;
    this.accounts = new SsoAccounts(options.store, options.users, this.clock);
  }

  get enabled(): boolean {
    return this.providers.list.length > 0;
  }

  /**
   * Begins a sign-in at `providerId`. Returns where to send the browser and the value for its
   * cookie (the key of this attempt: without it the answer is not accepted).
   */
  async start(providerId: string, origin: string, next: string, options: { reauth?: boolean } = {}): Promise<{ url: URL; browserKey: string }> {
    const provider = this.provider(providerId);
    const client = await this.client(provider);
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const verifier = oidc.randomPKCECodeVerifier();
    const browserKey = randomBytes(32).toString('base64url');
    const now = this.clock();
    const db = this.options.store.db;
    await db.deleteFrom('oidc_pending').where('expires_at', '<', nowIso(() => now)).execute();
    await db
      .insertInto('oidc_pending')
      .values({ id: hashToken(browserKey), provider_id: provider.id, state, nonce, code_verifier: verifier, next, reauth: options.reauth ? 1 : 0, expires_at: nowIso(() => now + PENDING_TTL_MS) })
      .execute();
    const url = oidc.buildAuthorizationUrl(client, {
      redirect_uri: origin + CALLBACK_PATH,
      scope: provider.scopes,
      state,
      nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      // Ask for the password again even if the provider's session is alive (§3.1.2.1).
      ...(options.reauth ? { prompt: 'login', max_age: '0' } : {}),
    });
    return { url, browserKey };
  }

  /**
   * Completes a sign-in from the provider's answer (`callbackUrl`, the redirect URI with its
   * query) and this browser's key. Throws SsoError — having created no user and no session —
   * when anything does not check out.
   */
  async finish(browserKey: string | undefined, callbackUrl: URL, log: SsoLog, meta: { ip?: string; userAgent?: string } = {}): Promise<SsoSignedIn> {
    const pending = browserKey ? await this.takePending(browserKey) : undefined;
    if (!pending) {
      throw new SsoError(400, 'not_started', 'This sign-in has expired or was already used. Start again from the sign-in page.');
    }
    if (callbackUrl.searchParams.get('state') !== pending.state) {
      throw new SsoError(400, 'state_mismatch', 'This answer from your identity provider does not belong to the sign-in started in this browser. Start again from the sign-in page.');
    }
    const provider = this.provider(pending.provider_id);
    const error = callbackUrl.searchParams.get('error');
    if (error) {
      const what = error === 'access_denied' ? 'the sign-in was cancelled or refused' : `it answered "${error.slice(0, 60)}"`;
      throw new SsoError(401, 'provider_error', `${provider.name} did not sign you in: ${what}.`, callbackUrl.searchParams.get('error_description') ?? undefined);
    }
    const client = await this.client(provider);
    let claims: IdentityClaims;
    let idToken: string;
    try {
      const tokens = await oidc.authorizationCodeGrant(client, callbackUrl, {
        pkceCodeVerifier: pending.code_verifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
      const verified = tokens.claims();
      if (!verified || !tokens.id_token) throw new Error('no ID token');
      claims = verified as IdentityClaims;
      idToken = tokens.id_token;
    } catch (err) {
      throw new SsoError(
        401,
        'invalid_response',
        `The answer from ${provider.name} could not be verified, so you are not signed in. Start again; if this keeps happening, tell your administrator.`,
        describe(err),
      );
    }
    const authTime = authTimeOf(claims, this.clock());
    if (pending.reauth) this.checkReauthenticated(provider, authTime);
    const { user, created } = await this.accounts.userFor(provider, claims);
    const { token, session } = await this.options.sessions.create(user.id, meta);
    try {
      await this.options.store.db
        .insertInto('sso_sessions')
        .values({ session_id: session.id, provider_id: provider.id, id_token: idToken, auth_time: authTime === undefined ? null : nowIso(() => authTime) })
        .execute();
    } catch (err) {
      await this.options.sessions.revoke(session.id);
      throw err;
    }
    log.info({ event: 'login', method: 'oidc', provider: provider.id, userId: user.id, created }, created ? 'signed in (new user)' : 'signed in');
    return { user, created, token, session, next: pending.next };
  }

  /**
   * Where to end the session at the provider too (RP-initiated logout), for a session signed in
   * with a provider that offers it; undefined otherwise. Ask before revoking the session.
   */
  async logoutUrl(sessionId: string, postLogoutRedirect: string): Promise<{ provider: OidcProviderConfig; url: URL } | undefined> {
    const row = await this.options.store.db.selectFrom('sso_sessions').selectAll().where('session_id', '=', sessionId).executeTakeFirst();
    const provider = row ? this.providers.get(row.provider_id) : undefined;
    if (!row || !provider) return undefined;
    try {
      const client = await this.providers.client(provider);
      if (!client.serverMetadata().end_session_endpoint) return undefined;
      return { provider, url: oidc.buildEndSessionUrl(client, { id_token_hint: row.id_token, post_logout_redirect_uri: postLogoutRedirect }) };
    } catch {
      return undefined;
    }
  }

  /** A value naming a session that just signed out, for a cookie: only this server can make one. */
  signedOutTicket(sessionId: string): string {
    return `${sessionId}.${this.mac(sessionId)}`;
  }

  /** The session a signed-out ticket names, or undefined when it is not one of ours. */
  readSignedOutTicket(ticket: string | undefined): string | undefined {
    if (!ticket || ticket.length > 200) return undefined;
    const dot = ticket.lastIndexOf('.');
    if (dot <= 0) return undefined;
    const sessionId = ticket.slice(0, dot);
    const given = Buffer.from(ticket.slice(dot + 1));
    const expected = Buffer.from(this.mac(sessionId));
    return given.length === expected.length && timingSafeEqual(given, expected) ? sessionId : undefined;
  }

  private mac(value: string): string {
    return createHmac('sha256', this.options.secret).update(`signed-out|${value}`).digest('base64url');
  }

  /**
   * A sign-in that asked for a fresh authentication must show one: an `auth_time` of the last
   * moments. A provider that ignored the request (its session was alive, so nobody typed a
   * password) gets no session: the user is told why instead of being sent round in a loop (the
   * route logs it as a failed sign-in, with the detail).
   */
  private checkReauthenticated(provider: OidcProviderConfig, authTime: number | undefined): void {
    const ageMs = authTime === undefined ? undefined : this.clock() - authTime;
    if (ageMs !== undefined && ageMs <= REAUTH_MAX_AGE_MS) return;
    throw new SsoError(
      401,
      'not_reauthenticated',
      `${provider.name} did not ask for your password again, so the device password cannot be reset; sign out of ${provider.name} and try again.`,
      ageMs === undefined ? 'no auth_time in the ID token' : `auth_time ${Math.round(ageMs / 1000)} s ago`,
    );
  }

  private provider(id: string): OidcProviderConfig {
    const provider = this.providers.get(id);
    if (!provider) throw new SsoError(404, 'unknown_provider', 'There is no sign-in provider of that name here. Choose one on the sign-in page.');
    return provider;
  }

  private async client(provider: OidcProviderConfig): Promise<oidc.Configuration> {
    try {
      return await this.providers.client(provider);
    } catch (err) {
      throw new SsoError(502, 'provider_unreachable', `${provider.name} cannot be reached right now. Try again in a minute.`, describe(err));
    }
  }

  /** The attempt of this browser key, removed as it is read: one answer per attempt. */
  private async takePending(browserKey: string) {
    if (browserKey.length > 100) return undefined;
    const row = await this.options.store.db.deleteFrom('oidc_pending').where('id', '=', hashToken(browserKey)).returningAll().executeTakeFirst();
    if (!row || Date.parse(row.expires_at) <= this.clock()) return undefined;
    return row;
  }
}

/**
 * The ID token's `auth_time` (seconds) in milliseconds, when it has a usable one — never later
 * than `now`: a provider's clock running ahead must not keep a sign-in "recent" for longer.
 */
function authTimeOf(claims: IdentityClaims, now: number): number | undefined {
  const value = claims.auth_time;
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.min(value * 1000, now) : undefined;
}

function describe(err: unknown): string {
  const e = err as { message?: string; code?: string; cause?: unknown };
  const cause = e.cause && typeof e.cause === 'object' ? ` (${JSON.stringify(e.cause).slice(0, 300)})` : '';
  return `${e.code ? `${e.code}: ` : ''}${e.message ?? String(err)}${cause}`;
}
