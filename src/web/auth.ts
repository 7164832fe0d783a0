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
const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export interface AuthOptions {
  sessions: SessionStore;
  secureCookies: boolean;
  maxAgeSeconds: number;
}

export function registerAuth(app: FastifyInstance, options: AuthOptions): void {
  app.decorateRequest('auth', null);

  app.addHook('onRequest', async (request) => {
    const token = request.cookies[SESSION_COOKIE];
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
  reply.setCookie(SESSION_COOKIE, token, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: options.secureCookies,
    maxAge: options.maxAgeSeconds,
  });
}

export function clearSessionCookie(reply: FastifyReply, options: AuthOptions): void {
  reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'lax', secure: options.secureCookies });
}

/** Double-submit token for the login form (there is no session yet to hold one). */
export function loginCsrfToken(request: FastifyRequest, reply: FastifyReply, secure: boolean): string {
  const existing = request.cookies[LOGIN_CSRF_COOKIE];
  if (existing && /^[A-Za-z0-9_-]{20,64}$/.test(existing)) return existing;
  const token = randomBytes(18).toString('base64url');
  reply.setCookie(LOGIN_CSRF_COOKIE, token, { path: '/', httpOnly: true, sameSite: 'lax', secure, maxAge: 3600 });
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
