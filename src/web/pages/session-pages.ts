/**
 * Sessions: every place a user is signed in (browser, sign-in method, address, when), listed on
 * their settings page and, for an administrator, per user. Signing a session out revokes it: its
 * pages need signing in again and its softphone's SIP WebSocket closes at once, so that browser
 * stops ringing.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { NotFoundError } from '../../shared/errors.ts';
import { signOutEverywhere } from '../account-security.ts';
import type { SessionInfo } from '../../users/index.ts';
import { clearSessionCookie, requireAdmin, requireUser, type AuthOptions } from '../auth.ts';
import { html, type Html } from '../html.ts';
import type { WebDeps } from '../index.ts';
import { formatDateTime, layout, type PageContext } from './layout.ts';
import { context } from './records.ts';

/** "Chrome on Linux": enough to tell one's own browsers apart. */
export function describeBrowser(userAgent: string | null): string {
  if (!userAgent) return 'Unknown browser';
  const ua = userAgent;
  const browser = /Edg\//.test(ua)
    ? 'Edge'
    : /Firefox\//.test(ua)
      ? 'Firefox'
      : /Chrome\/|Chromium\//.test(ua)
        ? 'Chrome'
        : /Safari\//.test(ua)
          ? 'Safari'
          : /^curl\//.test(ua)
            ? 'curl'
            : 'Another program';
  const os = /Android/.test(ua)
    ? 'Android'
    : /iPhone|iPad/.test(ua)
      ? 'iOS'
      : /Windows/.test(ua)
        ? 'Windows'
        : /Mac OS X|Macintosh/.test(ua)
          ? 'macOS'
          : /Linux|X11/.test(ua)
            ? 'Linux'
            : '';
  return os ? `${browser} on ${os}` : browser;
}

function methodOf(deps: WebDeps, s: SessionInfo): string {
  if (!s.provider_id) return 'Password';
  return deps.sso.providers.get(s.provider_id)?.name ?? s.provider_id;
}

function sessionTable(deps: WebDeps, ctx: PageContext, sessions: SessionInfo[], action: string, currentId?: string): Html {
  const tz = ctx.user.time_zone;
  return html`<table class="records sessions">
    <thead><tr><th scope="col">Browser</th><th scope="col">Signed in with</th><th scope="col">Address</th><th scope="col">Signed in</th><th scope="col">Last active</th><th scope="col"><span class="visually-hidden">Action</span></th></tr></thead>
    <tbody>${sessions.map((s) => {
      const browser = describeBrowser(s.user_agent);
      const current = s.id === currentId;
      return html`<tr data-session="${s.id}">
        <td>${browser}${current ? html` <strong>(this browser)</strong>` : ''}</td>
        <td>${methodOf(deps, s)}</td>
        <td>${s.ip ?? '—'}</td>
        <td>${formatDateTime(s.created_at, tz)}</td>
        <td>${formatDateTime(s.last_seen_at, tz)}</td>
        <td><form method="post" action="${action}">
          <input type="hidden" name="_csrf" value="${ctx.csrf}">
          <input type="hidden" name="session" value="${s.id}">
          <button type="submit" class="danger">${current ? 'Sign out here' : 'Sign out'}</button>
        </form></td>
      </tr>`;
    })}</tbody>
  </table>`;
}

/** The "Sessions" section of the settings page. */
export async function sessionsSection(deps: WebDeps, ctx: PageContext, currentId: string, query: Record<string, unknown>): Promise<Html> {
  const sessions = await deps.sessions.listOf(ctx.user.id);
  return html`<section class="card" id="sessions" aria-labelledby="sessions-heading"><h2 id="sessions-heading">Sessions</h2>
    ${query.session_revoked ? html`<p class="banner banner-info" role="status">That session is signed out; its phone no longer rings.</p>` : ''}
    <p>Everywhere you are signed in. Sign out a browser you no longer use or do not recognise: it has to sign in again, and its phone stops ringing at once.</p>
    ${sessionTable(deps, ctx, sessions, '/settings/sessions/revoke', currentId)}
  </section>`;
}

function sessionParam(request: FastifyRequest): string {
  const b = (request.body ?? {}) as Record<string, unknown>;
  return typeof b.session === 'string' && /^[A-Za-z0-9_-]{20,100}$/.test(b.session) ? b.session : '';
}

export async function sessionPages(app: FastifyInstance, deps: WebDeps, authOptions: AuthOptions): Promise<void> {
  app.post('/settings/sessions/revoke', { preValidation: requireUser }, async (request, reply) => {
    const auth = request.auth!;
    const id = sessionParam(request);
    // Someone else's session is "not found": ids of other users' sessions are not to be probed.
    if (!id || (await deps.sessions.ownerOf(id)) !== auth.user.id) throw new NotFoundError('Session');
    await deps.sessions.revoke(id);
    if (id === auth.session.id) {
      clearSessionCookie(reply, authOptions);
      return reply.redirect('/login?signed_out=1', 303);
    }
    return reply.redirect('/settings?session_revoked=1#sessions', 303);
  });

  const adminPage = async (request: FastifyRequest, userId: string, notice?: string) => {
    const ctx = context(request);
    const user = await deps.users.get(userId);
    if (!user) throw new NotFoundError('User');
    const sessions = await deps.sessions.listOf(user.id);
    const body = html`<p><a href="/admin/users">← Users</a></p>
      <h1>Sessions of ${user.name}</h1>
      ${notice ? html`<p class="banner banner-info" role="status">${notice}</p>` : ''}
      ${sessions.length === 0
        ? html`<p class="muted">${user.name} is not signed in anywhere.</p>`
        : html`${sessionTable(deps, ctx, sessions, `/admin/users/${user.id}/sessions/revoke`, request.auth!.session.id)}
          <form method="post" action="/admin/users/${user.id}/sessions/revoke-all">
            <input type="hidden" name="_csrf" value="${ctx.csrf}">
            <p><button type="submit" class="danger">Sign ${user.name} out everywhere</button></p>
          </form>`}`;
    return layout(ctx, `Sessions of ${user.name}`, body).value;
  };
  const userIdParam = (request: FastifyRequest) => {
    const id = (request.params as { id: string }).id;
    if (!/^[0-9a-f-]{36}$/.test(id)) throw new NotFoundError('User');
    return id;
  };

  app.get('/admin/users/:id/sessions', { preValidation: requireAdmin }, async (request, reply) => {
    const q = request.query as Record<string, unknown>;
    const notice = q.revoked ? `Signed out of ${String(Number(q.revoked))} session${q.revoked === '1' ? '' : 's'}.` : undefined;
    return reply.type('text/html; charset=utf-8').send(await adminPage(request, userIdParam(request), notice));
  });

  app.post('/admin/users/:id/sessions/revoke', { preValidation: requireAdmin }, async (request, reply) => {
    const userId = userIdParam(request);
    const id = sessionParam(request);
    if (!id || (await deps.sessions.ownerOf(id)) !== userId) throw new NotFoundError('Session');
    await deps.sessions.revoke(id);
    if (id === request.auth!.session.id) {
      clearSessionCookie(reply, authOptions);
      return reply.redirect('/login?signed_out=1', 303);
    }
    return reply.redirect(`/admin/users/${userId}/sessions?revoked=1`, 303);
  });

  app.post('/admin/users/:id/sessions/revoke-all', { preValidation: requireAdmin }, async (request, reply) => {
    const userId = userIdParam(request);
    if (!(await deps.users.get(userId))) throw new NotFoundError('User');
    const n = await signOutEverywhere(deps, userId);
    if (userId === request.auth!.user.id) {
      clearSessionCookie(reply, authOptions);
      return reply.redirect('/login?signed_out=1', 303);
    }
    return reply.redirect(`/admin/users/${userId}/sessions?revoked=${n}`, 303);
  });
}
