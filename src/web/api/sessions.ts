/**
 * `/api/v1/sessions`: the signed-in user's sessions, and an administrator's view of anyone's.
 * Revoking one ends it everywhere and closes its softphone's SIP WebSocket at once.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { Id, Nullable, Timestamp } from '../../crm/schemas.ts';
import { NotFoundError } from '../../shared/errors.ts';
import type { SessionInfo } from '../../users/index.ts';
import { clearSessionCookie, requireAdmin, requireUser, type AuthOptions } from '../auth.ts';
import type { WebDeps } from '../index.ts';
import { signOutEverywhere } from '../account-security.ts';
import { describeBrowser } from '../pages/session-pages.ts';

const ErrorBody = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String(), field: Type.Optional(Type.String()) }, { additionalProperties: true }),
});
const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody };

const SessionId = Type.String({ pattern: '^[A-Za-z0-9_-]{20,100}$', description: 'Session id (not the cookie: a hash of it)' });

export const SessionView = Type.Object({
  id: SessionId,
  user_id: Id,
  current: Type.Boolean({ description: 'The session of this request' }),
  browser: Type.String({ description: 'From the User-Agent: "Chrome on Linux"' }),
  user_agent: Nullable(Type.String()),
  ip: Nullable(Type.String()),
  method: Type.String({ description: '"password", or the single sign-on provider id' }),
  created_at: Timestamp,
  last_seen_at: Timestamp,
  expires_at: Timestamp,
});

export const sessionApi: FastifyPluginAsyncTypebox<{ deps: WebDeps; authOptions: AuthOptions }> = async (app, { deps, authOptions }) => {
  const view = (s: SessionInfo, currentId: string) => ({
    id: s.id,
    user_id: s.user_id,
    current: s.id === currentId,
    browser: describeBrowser(s.user_agent),
    user_agent: s.user_agent,
    ip: s.ip,
    method: s.provider_id ?? 'password',
    created_at: s.created_at,
    last_seen_at: s.last_seen_at,
    expires_at: s.expires_at,
  });
  const List = Type.Object({ data: Type.Array(SessionView) });

  app.get(
    '/sessions',
    { preValidation: requireUser, schema: { tags: ['session'], summary: 'Where you are signed in: your live sessions, most recently used first', response: { 200: List, ...errors } } },
    async (request) => ({ data: (await deps.sessions.listOf(request.auth!.user.id)).map((s) => view(s, request.auth!.session.id)) }),
  );

  app.delete(
    '/sessions/:id',
    {
      preValidation: requireUser,
      schema: {
        tags: ['session'],
        summary: "Sign a session out (yours; an administrator's: anyone's). Its SIP WebSocket closes at once.",
        params: Type.Object({ id: SessionId }),
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (request, reply) => {
      const me = request.auth!;
      const owner = await deps.sessions.ownerOf(request.params.id);
      if (!owner || (owner !== me.user.id && me.user.role !== 'admin')) throw new NotFoundError('Session');
      await deps.sessions.revoke(request.params.id);
      if (request.params.id === me.session.id) clearSessionCookie(reply, authOptions);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/users/:id/sessions',
    {
      preValidation: requireAdmin,
      schema: { tags: ['session'], summary: "A user's live sessions (admin)", params: Type.Object({ id: Id }), response: { 200: List, ...errors } },
    },
    async (request) => {
      if (!(await deps.users.get(request.params.id))) throw new NotFoundError('User');
      return { data: (await deps.sessions.listOf(request.params.id)).map((s) => view(s, request.auth!.session.id)) };
    },
  );

  app.delete(
    '/users/:id/sessions',
    {
      preValidation: requireAdmin,
      schema: {
        tags: ['session'],
        summary: 'Sign a user out everywhere (admin): every session revoked, every SIP WebSocket and registration of theirs ended, the device password replaced',
        params: Type.Object({ id: Id }),
        response: { 200: Type.Object({ revoked: Type.Integer() }), ...errors },
      },
    },
    async (request, reply) => {
      if (!(await deps.users.get(request.params.id))) throw new NotFoundError('User');
      const revoked = await signOutEverywhere(deps, request.params.id);
      if (request.params.id === request.auth!.user.id) clearSessionCookie(reply, authOptions);
      return { revoked };
    },
  );
};
