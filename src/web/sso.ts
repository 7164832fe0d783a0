/**
 * Single sign-on routes: `/auth/oidc/start` sends the browser to the provider, the provider sends
 * it back to `/auth/oidc/callback` (the redirect URI registered there), and `/auth/oidc/signed-out`
 * offers to end the provider's session too after Log out. A sign-in that fails gets a page that
 * says what to do; it never names a user, and leaves no user and no session behind.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CALLBACK_PATH, SsoError, type SingleSignOn } from '../sso/index.ts';
import { httpsOnly, setSessionCookie, type AuthOptions } from './auth.ts';
import { html, type Html } from './html.ts';
import type { WebDeps } from './index.ts';
import { document } from './pages/layout.ts';

/** The browser's key to its sign-in in progress; only the callback path ever sees it. */
export const SSO_COOKIE = 'rs_oidc';
/** Which session was just signed out, signed: the signed-out page offers the provider's logout. */
const SIGNED_OUT_COOKIE = 'rs_signed_out';

/** Our public origin: BASE_URL when set (behind a proxy), else what the browser asked for. */
function originOf(deps: WebDeps, request: FastifyRequest): string {
  return deps.config.BASE_URL ?? `${request.protocol}://${request.host}`;
}

/** Only our own paths: never an absolute URL (open redirect) or `//host`. */
export function safeNext(next: unknown): string {
  return typeof next === 'string' && /^\/(?![/\\])[^\s]*$/.test(next) && !next.startsWith('/login') && !next.startsWith('/auth/') ? next : '/contacts';
}

const cookieOptions = (secure: boolean) => ({ path: '/auth/oidc', httpOnly: true, sameSite: 'lax' as const, secure });

/**
 * Where Log out sends the browser — call it before revoking the session: the offer to sign out of
 * the provider too for a single sign-on session whose provider supports it, else the login page.
 */
export async function signOutTarget(deps: WebDeps, request: FastifyRequest, reply: FastifyReply): Promise<string> {
  const session = request.auth?.session;
  if (!session || !(await deps.sso.logoutUrl(session.id, `${originOf(deps, request)}/login`))) return '/login?signed_out=1';
  reply.setCookie(SIGNED_OUT_COOKIE, deps.sso.signedOutTicket(session.id), { ...cookieOptions(httpsOnly(deps.config)), maxAge: 600 });
  return '/auth/oidc/signed-out';
}

export async function ssoRoutes(app: FastifyInstance, opts: { deps: WebDeps; authOptions: AuthOptions }): Promise<void> {
  const { deps, authOptions } = opts;
  const { sso } = deps;
  const cookies = cookieOptions(httpsOnly(deps.config));

  app.get('/auth/oidc/start', async (request, reply) => {
    const q = request.query as Record<string, unknown>;
    const providerId = typeof q.provider === 'string' ? q.provider : '';
    try {
      // `reauth=1` (Settings' "Sign in again"): the provider must ask for the password again.
      const { url, browserKey } = await sso.start(providerId, originOf(deps, request), safeNext(q.next), { reauth: q.reauth === '1' });
      reply.setCookie(SSO_COOKIE, browserKey, { ...cookies, maxAge: 600 });
      return reply.redirect(url.href, 303);
    } catch (err) {
      if (err instanceof SsoError) return failed(request, reply, err, providerId);
      throw err;
    }
  });

  app.get(CALLBACK_PATH, async (request, reply) => {
    const browserKey = request.cookies[SSO_COOKIE];
    reply.clearCookie(SSO_COOKIE, cookies);
    const query = request.url.includes('?') ? request.url.slice(request.url.indexOf('?')) : '';
    const callbackUrl = new URL(originOf(deps, request) + CALLBACK_PATH + query);
    try {
      const ua = request.headers['user-agent'];
      const signedIn = await sso.finish(browserKey, callbackUrl, request.log, { ip: request.ip, ...(ua ? { userAgent: ua } : {}) });
      setSessionCookie(reply, signedIn.token, authOptions);
      return reply.redirect(signedIn.next, 303);
    } catch (err) {
      if (err instanceof SsoError) return failed(request, reply, err);
      throw err;
    }
  });

  app.get('/auth/oidc/signed-out', async (request, reply) => {
    const sessionId = sso.readSignedOutTicket(request.cookies[SIGNED_OUT_COOKIE]);
    const offer = sessionId ? await sso.logoutUrl(sessionId, `${originOf(deps, request)}/login`) : undefined;
    reply.clearCookie(SIGNED_OUT_COOKIE, cookies);
    if (!offer) return reply.redirect('/login?signed_out=1', 303);
    const name = offer.provider.name;
    return page(
      reply,
      200,
      'Signed out',
      html`<p class="banner banner-info" role="status">You are signed out of Ringside.</p>
        <p>You may still be signed in to ${name}: anyone using this browser could sign in to Ringside again without a password.</p>
        <p><a class="button primary wide" href="${offer.url.href}">Sign out of ${name} too</a></p>
        <p><a href="/login">Sign in to Ringside again</a></p>`,
    );
  });

  function failed(request: FastifyRequest, reply: FastifyReply, err: SsoError, providerId?: string) {
    request.log.info({ event: 'login_failed', method: 'oidc', code: err.code, detail: err.detail, ip: request.ip }, 'single sign-on failed');
    const provider = providerId ? sso.providers.get(providerId) : undefined;
    const retry = provider && err.code === 'provider_unreachable' ? html`<p><a class="button primary wide" href="/auth/oidc/start?provider=${provider.id}">Try ${provider.name} again</a></p>` : '';
    // Signing in again did not happen, but the session it was for is still there.
    const back = err.code === 'not_reauthenticated' ? html`<a href="/settings">Back to Settings</a>` : html`<a href="/login">Back to sign-in</a>`;
    return page(
      reply,
      err.status,
      'Sign-in did not work',
      html`<p class="banner banner-error" role="alert">${err.message}</p>
        ${retry}
        <p>${back}</p>`,
    );
  }
}

function page(reply: FastifyReply, status: number, title: string, body: Html) {
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .send(
      document(
        title,
        html`<main id="main" class="login">
          <div class="login-card card">
            <p class="brand"><span aria-hidden="true">📞</span> Ringside</p>
            <h1>${title}</h1>
            ${body}
          </div>
        </main>`,
        { bodyClass: 'login-body' },
      ).value,
    );
}
