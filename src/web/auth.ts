/**
 * Who is asking: the session cookie is resolved on every request; state-changing requests made
 * with that cookie must also carry the session's CSRF token (form field `_csrf` or header
 * `X-CSRF-Token`) and, when the browser sends one, a same-origin `Origin`.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ActiveSession, SessionStore } from '../users/index.ts';
import { AppError } from '../shared/errors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    auth: ActiveSession | null;
  }
}

export const SESSION_COOKIE = 'rs_session';
export const LOGIN_CSRF_COOKIE = 'rs_login_csrf';

/**
 * Over https the cookies are `Secure` and `__Host-` prefixed: the browser then keeps them from
 * plain-http pages and from sibling subdomains (which could otherwise set their own `rs_session`
 * or `rs_login_csrf` for us: a forced session, a login CSRF). Plain http (localhost) keeps the names.
 */
/** Secure cookies and HSTS whenever browsers reach us over https: TLS here, or BASE_URL https behind a proxy. */
export function httpsOnly(config: { tls: boolean; publicUrl: string }): boolean {
  return config.tls || config.publicUrl.startsWith('https:');
}

export function sessionCookieName(secure: boolean): string {
  return secure ? `__Host-${SESSION_COOKIE}` : SESSION_COOKIE;
}

export function loginCsrfCookieName(secure: boolean): string {
  return secure ? `__Host-${LOGIN_CSRF_COOKIE}` : LOGIN_CSRF_COOKIE;
}
const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export interface AuthOptions {
  sessions: SessionStore;
  /** BASE_URL is https (or Ringside terminates TLS): Secure, `__Host-` cookies and HSTS. */
  secureCookies: boolean;
  maxAgeSeconds: number;
}

export function registerAuth(app: FastifyInstance, options: AuthOptions): void {
  app.decorateRequest('auth', null);

  const cookieName = sessionCookieName(options.secureCookies);
  app.addHook('onRequest', async (request) => {
    const token = request.cookies[cookieName];
    request.auth = token ? ((await options.sessions.resolve(token)) ?? null) : null;
  });

  // After the body is parsed (a form's `_csrf` field), before schema validation: a forged request
  // learns nothing from validation errors.
  app.addHook('preValidation', async (request) => {
    if (!UNSAFE.has(request.method) || !request.auth) return;
    if (request.routeOptions.config?.csrf === false) return;
    checkOrigin(request);
    const body = request.body as Record<string, unknown> | undefined;
    const sent = (request.headers['x-csrf-token'] as string | undefined) ?? (typeof body?._csrf === 'string' ? body._csrf : undefined);
    if (!sent || !safeEqual(sent, request.auth.session.csrf_token)) {
      throw new AppError(403, 'csrf_failed', 'This request is missing its security token. Reload the page and try again.');
    }
  });
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** false for the few unsafe routes that check their own token (login). */
    csrf?: boolean;
  }
}

/** A cross-site page must not drive a logged-in user's browser: `Origin`, when sent, must be ours. */
export function checkOrigin(request: FastifyRequest): void {
  const origin = request.headers.origin;
  if (!origin || origin === 'null') {
    if (origin === 'null') throw new AppError(403, 'csrf_failed', 'Cross-site request refused.');
    return;
  }
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    throw new AppError(403, 'csrf_failed', 'Cross-site request refused.');
  }
  if (host !== request.host) throw new AppError(403, 'csrf_failed', 'Cross-site request refused.');
}

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function setSessionCookie(reply: FastifyReply, token: string, options: AuthOptions): void {
  reply.setCookie(sessionCookieName(options.secureCookies), token, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: options.secureCookies,
    maxAge: options.maxAgeSeconds,
  });
}

export function clearSessionCookie(reply: FastifyReply, options: AuthOptions): void {
  reply.clearCookie(sessionCookieName(options.secureCookies), { path: '/', httpOnly: true, sameSite: 'lax', secure: options.secureCookies });
}

/** Double-submit token for the login form (there is no session yet to hold one). */
export function loginCsrfToken(request: FastifyRequest, reply: FastifyReply, secure: boolean): string {
  const existing = request.cookies[loginCsrfCookieName(secure)];
  if (existing && /^[A-Za-z0-9_-]{20,64}$/.test(existing)) return existing;
  const token = randomBytes(18).toString('base64url');
  reply.setCookie(loginCsrfCookieName(secure), token, { path: '/', httpOnly: true, sameSite: 'lax', secure, maxAge: 3600 });
  return token;
}

export function isApiRequest(request: FastifyRequest): boolean {
  return request.url.startsWith('/api/');
}

/** Route guard (preValidation): a signed-in user, else 401 (API) or the login page (pages). */
export async function requireUser(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (request.auth) return;
  if (isApiRequest(request)) throw new AppError(401, 'unauthenticated', 'Sign in first');
  const next = request.method === 'GET' ? `?next=${encodeURIComponent(request.url)}` : '';
  await reply.redirect(`/login${next}`, 303);
}

export async function requireAdmin(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  await requireUser(request, reply);
  if (reply.sent) return;
  if (request.auth?.user.role !== 'admin') throw new AppError(403, 'forbidden', 'Only an administrator can do that');
}
