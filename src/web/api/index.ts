/**
 * REST API `/api/v1`: session, users, contacts, accounts, leads, activities. Schemas first: each
 * route's TypeBox schemas validate the request, serialise the response and make the OpenAPI document.
 */
import type { FastifyInstance } from 'fastify';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type TSchema } from 'typebox';
import { schemas } from '../../crm/index.ts';
import { Nullable } from '../../crm/schemas.ts';
import { AppError, NotFoundError } from '../../shared/errors.ts';
import { disableUser, enableUser, resetDevicePassword } from '../account-security.ts';
import { testCallerNumber } from '../test-call.ts';
import { userSchemas } from '../../users/index.ts';
import { clearSessionCookie, requireAdmin, requireUser, setSessionCookie, type AuthOptions } from '../auth.ts';
import { signIn } from '../sign-in.ts';
import { sessionApi } from './sessions.ts';
import type { WebDeps } from '../index.ts';
import type { Store } from '../../store/index.ts';
import { assertMayDelete, type RecordTable } from '../record-access.ts';

const ErrorBody = Type.Object(
  {
    error: Type.Object(
      {
        code: Type.String(),
        message: Type.String(),
        field: Type.Optional(Type.String()),
      },
      { additionalProperties: true },
    ),
  },
  { $id: 'Error', description: 'Every failure: a stable code, a sentence, and the field at fault when there is one.' },
);

const IdParams = Type.Object({ id: schemas.Id });
const errors = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
  413: ErrorBody,
};
const ok = <T extends TSchema>(schema: T) => ({ 200: schema, ...errors });
const created = <T extends TSchema>(schema: T) => ({ 201: schema, ...errors });

const SessionView = Type.Object({ user: userSchemas.UserView, csrf_token: Type.String() });

export const apiRoutes: FastifyPluginAsyncTypebox<{ deps: WebDeps; authOptions: AuthOptions }> = async (app, { deps, authOptions }) => {
  const { crm, users } = deps;

  // The API speaks JSON only: a form or text/plain body (what a cross-site form can send) gets 415.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));

  // ------------------------------------------------------------------ session
  app.post(
    '/session',
    {
      config: { csrf: false },
      schema: {
        tags: ['session'],
        summary: 'Sign in with email and password; sets the session cookie',
        security: [],
        body: Type.Object({ email: Type.String({ maxLength: 254 }), password: Type.String({ maxLength: 200 }) }, { additionalProperties: false }),
        response: { ...ok(SessionView), 429: ErrorBody },
      },
    },
    async (request, reply) => {
      const { token, user, csrf } = await signIn(deps, request, request.body.email, request.body.password);
      setSessionCookie(reply, token, authOptions);
      return { user: users.view(user), csrf_token: csrf };
    },
  );

  app.get(
    '/session',
    { preValidation: requireUser, schema: { tags: ['session'], summary: 'The signed-in user and the CSRF token', response: ok(SessionView) } },
    async (request) => ({ user: users.view(request.auth!.user), csrf_token: request.auth!.session.csrf_token }),
  );

  app.delete(
    '/session',
    { preValidation: requireUser, schema: { tags: ['session'], summary: 'Sign out', response: { 204: Type.Null(), ...errors } } },
    async (request, reply) => {
      await deps.sessions.revoke(request.auth!.session.id);
      clearSessionCookie(reply, authOptions);
      return reply.code(204).send(null);
    },
  );

  await app.register(sessionApi, { deps, authOptions });

  // ------------------------------------------------------------------ users
  app.get(
    '/users',
    { preValidation: requireUser, schema: { tags: ['users'], summary: 'All users', response: ok(Type.Object({ data: Type.Array(userSchemas.UserView) })) } },
    async () => ({ data: await users.list() }),
  );

  app.post(
    '/users',
    {
      preValidation: requireAdmin,
      schema: { tags: ['users'], summary: "Add a user (admin); the answer holds their generated device password, shown this once", body: userSchemas.UserInput, response: created(userSchemas.CreatedUserView) },
    },
    async (request, reply) => reply.code(201).header('cache-control', 'no-store').send(await users.create(request.body)),
  );

  app.post(
    '/users/:id/disable',
    {
      preValidation: requireAdmin,
      schema: {
        tags: ['users'],
        summary: 'Disable (offboard) a user (admin): every session, SIP WebSocket and registration ends at once, and the device password is replaced',
        params: IdParams,
        response: ok(userSchemas.UserView),
      },
    },
    async (request) => {
      if (request.params.id === request.auth!.user.id) throw new AppError(400, 'validation_failed', 'You cannot disable your own account', 'id');
      if (!(await users.get(request.params.id))) throw new NotFoundError('User');
      const view = await disableUser(deps, request.params.id);
      request.log.info({ user: view.id, by: request.auth!.user.id }, 'user disabled');
      return view;
    },
  );

  app.post(
    '/users/:id/enable',
    { preValidation: requireAdmin, schema: { tags: ['users'], summary: 'Enable a disabled user again (admin)', params: IdParams, response: ok(userSchemas.UserView) } },
    async (request) => {
      if (!(await users.get(request.params.id))) throw new NotFoundError('User');
      return enableUser(deps, request.params.id);
    },
  );

  app.get(
    '/users/me',
    { preValidation: requireUser, schema: { tags: ['users'], summary: 'The signed-in user', response: ok(userSchemas.UserView) } },
    async (request) => users.view(request.auth!.user),
  );

  app.post(
    '/users/me/device-password',
    {
      preValidation: requireUser,
      schema: {
        tags: ['users'],
        summary:
          'Reset your device password (phones using the old one stop ringing); the answer holds the new one, shown this once. Needs your login password, or, signed in with single sign-on, a sign-in in the last 10 minutes (else 403 with `sign_in_url`)',
        body: Type.Object({ password: Type.Optional(Type.String({ maxLength: 200, description: 'Your login password' })) }, { additionalProperties: false }),
        response: { ...ok(Type.Object({ device_password: Type.String() })), 429: ErrorBody },
      },
    },
    async (request, reply) => {
      const password = await resetDevicePassword(deps, request, request.body.password ?? '', 'password', '/settings');
      return reply.header('cache-control', 'no-store').send({ device_password: password });
    },
  );

  // ------------------------------------------------------------------ softphone
  const IceServer = Type.Object({ urls: Type.Union([Type.String(), Type.Array(Type.String())]), username: Type.Optional(Type.String()), credential: Type.Optional(Type.String()) });
  app.get(
    '/softphone',
    {
      preValidation: requireUser,
      schema: {
        tags: ['softphone'],
        summary: "What the browser softphone needs: the user's SIP identity, the WebSocket path, ICE servers",
        response: ok(
          Type.Object({
            user: Type.Object({ id: Type.String(), name: Type.String(), email: Type.String(), extension: Nullable(Type.String()), sip_username: Type.String() }),
            sip: Type.Object({ uri: Type.String(), domain: Type.String(), display_name: Type.String(), ws_path: Type.String() }),
            ice_servers: Type.Array(IceServer),
            ice_transport_policy: Type.Union([Type.Literal('all'), Type.Literal('relay')]),
          }),
        ),
      },
    },
    async (request) => deps.gateway.softphoneConfig(request.auth!.user),
  );
  app.get(
    '/ice-servers',
    {
      preValidation: requireUser,
      schema: {
        tags: ['softphone'],
        summary: 'STUN and TURN servers, TURN with time-limited credentials (coturn use-auth-secret)',
        response: ok(Type.Object({ ice_servers: Type.Array(IceServer), ttl_s: Type.Integer() })),
      },
    },
    async (request) => ({ ice_servers: deps.gateway.iceServers(request.auth!.user.id), ttl_s: deps.config.TURN_TTL_S }),
  );
  app.post(
    '/sip-token',
    {
      preValidation: requireUser,
      schema: {
        tags: ['softphone'],
        summary: 'A one-minute, single-use token for the SIP WebSocket (`/sip?token=`) where a cookie cannot go (an iframe in another site); fetch a new one for each connection',
        response: ok(Type.Object({ token: Type.String(), ws_path: Type.String() })),
      },
    },
    async (request) => ({ token: deps.gateway.token(request.auth!.user.id, request.auth!.session.id), ws_path: '/sip' }),
  );

  app.post(
    '/test-call',
    {
      preValidation: requireUser,
      schema: {
        tags: ['softphone'],
        summary: 'Ring a user (yourself unless you are an admin) from the built-in test caller: every device rings; answered, it plays a tone',
        body: Type.Object(
          {
            to: Type.Optional(Type.String({ format: 'email', description: "The user to ring (admins only for others'); yourself by default" })),
            from: Type.Optional(Type.String({ pattern: '^\\+\\d{6,15}$', description: 'The caller number shown; a demo contact\'s by default' })),
            duration_s: Type.Optional(Type.Integer({ minimum: 1, maximum: 600, default: 20 })),
          },
          { additionalProperties: false },
        ),
        response: { 202: Type.Object({ to: Type.String(), from: Type.String(), duration_s: Type.Integer() }), ...errors, 429: ErrorBody },
      },
    },
    async (request, reply) => {
      const me = request.auth!.user;
      const body = request.body as { to?: string; from?: string; duration_s?: number };
      const target = body.to && body.to.toLowerCase() !== me.email ? await users.findByEmail(body.to) : me;
      if (!target) throw new AppError(404, 'not_found', 'No user with this email', 'to');
      if (target.id !== me.id && me.role !== 'admin') throw new AppError(403, 'forbidden', 'Only an administrator can ring someone else', 'to');
      const from = body.from ?? (await testCallerNumber(crm));
      const durationS = body.duration_s ?? 20;
      // Counted against the caller's own call limits (a test call holds relay ports like any call).
      const admission = deps.sip.admitCall(me.id);
      if (!admission.admitted) throw new AppError(429, 'too_many_calls', admission.reason, undefined, { retry_after_s: admission.retryAfterS });
      void deps.sip.testCall({ to: target.sip_username, from, durationS, slot: admission.slot }).catch((err: unknown) => request.log.warn({ err }, 'test call failed'));
      return reply.code(202).send({ to: target.email, from, duration_s: durationS });
    },
  );

  // ------------------------------------------------------------------ calls (the widget's side of a call)
  const CallParams = Type.Object({ id: schemas.Id });
  const RecordRefSchema = Type.Object({ record_type: schemas.RecordTypeSchema, record_id: schemas.Id }, { additionalProperties: false });
  app.get(
    '/calls/recent',
    {
      preValidation: requireUser,
      schema: {
        tags: ['calls'],
        summary: "The signed-in user's latest calls, newest first, with each one's disposition and wrap-up notes; missed ones can be called back",
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })) }, { additionalProperties: false }),
        response: ok(
          Type.Object({
            data: Type.Array(
              Type.Object({
                call_id: Type.String(),
                direction: Type.Union([Type.Literal('inbound'), Type.Literal('outbound')]),
                number: Nullable(Type.String()),
                number_display: Nullable(Type.String()),
                name: Nullable(Type.String({ description: "The matched record's name, else the caller's display name" })),
                started_at: Type.String(),
                duration_s: Type.Number({ description: 'Seconds talked (0 when not answered)' }),
                missed: Type.Boolean({ description: 'An incoming call the user neither answered nor declined' }),
                disposition: Nullable(
                  Type.Union(
                    [
                      Type.Literal('answered'),
                      Type.Literal('no-answer'),
                      Type.Literal('busy'),
                      Type.Literal('declined'),
                      Type.Literal('answered-elsewhere'),
                      Type.Literal('cancelled'),
                      Type.Literal('failed'),
                      Type.Literal('interrupted'),
                    ],
                    { description: 'What the call was for this user, as its CRM activity says; null while it goes on' },
                  ),
                ),
                state: Type.String(),
                record: Nullable(Type.Object({ type: schemas.RecordTypeSchema, id: Type.String() })),
                notes: Nullable(Type.String({ description: 'Wrap-up notes (PUT /calls/{id}/notes)' })),
              }),
            ),
          }),
        ),
      },
    },
    async (request) => ({ data: await deps.calls.recent(request.auth!.user.id, (request.query as { limit?: number }).limit ?? 20) }),
  );
  app.post(
    '/calls/:id/link',
    { preValidation: requireUser, schema: { tags: ['calls'], summary: 'Link the call to the record the user picked (several share the number)', params: CallParams, body: RecordRefSchema, response: { 204: Type.Null(), ...errors } } },
    async (request, reply) => {
      const b = request.body as { record_type: 'contact' | 'lead' | 'account'; record_id: string };
      await deps.calls.link((request.params as { id: string }).id, request.auth!.user.id, { type: b.record_type, id: b.record_id });
      return reply.code(204).send(null);
    },
  );
  app.post(
    '/calls/:id/contact',
    {
      preValidation: requireUser,
      schema: {
        tags: ['calls'],
        summary: "Add contact with the call's number and link the call to it; repeated, it returns the same contact",
        params: CallParams,
        body: Type.Object({ first_name: schemas.line(100, 1), last_name: schemas.line(100, 1), account_id: Type.Optional(Nullable(schemas.Id)) }, { additionalProperties: false }),
        response: { 200: schemas.Contact, 201: schemas.Contact, ...errors },
      },
    },
    async (request, reply) => {
      const { contactId, created } = await deps.calls.addContact((request.params as { id: string }).id, request.auth!.user.id, request.body as { first_name: string; last_name: string; account_id?: string | null });
      return reply.code(created ? 201 : 200).send(await crm.getContact(contactId));
    },
  );
  app.put(
    '/calls/:id/notes',
    {
      preValidation: requireUser,
      schema: {
        tags: ['calls'],
        summary: 'Wrap-up notes of the call, during or after it (the CRM activity is updated)',
        params: CallParams,
        body: Type.Object({ notes: Nullable(Type.String({ maxLength: 10_000 })) }, { additionalProperties: false }),
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (request, reply) => {
      await deps.calls.setNotes((request.params as { id: string }).id, request.auth!.user.id, (request.body as { notes: string | null }).notes);
      return reply.code(204).send(null);
    },
  );
  app.post(
    '/calls/:id/quality',
    {
      preValidation: requireUser,
      schema: {
        tags: ['calls'],
        summary: "Call quality from the browser's getStats (jitter, loss, RTT); the server estimates the MOS",
        params: CallParams,
        body: Type.Object(
          {
            jitter_ms: Type.Optional(Nullable(Type.Number({ minimum: 0, maximum: 10_000 }))),
            loss_pct: Type.Optional(Nullable(Type.Number({ minimum: 0, maximum: 100 }))),
            rtt_ms: Type.Optional(Nullable(Type.Number({ minimum: 0, maximum: 60_000 }))),
          },
          { additionalProperties: false },
        ),
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (request, reply) => {
      await deps.calls.setQuality((request.params as { id: string }).id, request.auth!.user.id, request.body as { jitter_ms?: number; loss_pct?: number; rtt_ms?: number });
      return reply.code(204).send(null);
    },
  );
  app.get(
    '/admin/outbox',
    {
      preValidation: requireAdmin,
      schema: { tags: ['admin'], summary: 'Activities not delivered to the CRM yet, oldest first, with their last error' },
    },
    async () => ({
      stats: deps.outbox.stats,
      data: (await deps.outbox.undelivered()).map((r) => ({
        id: r.id,
        key: r.idempotency_key,
        kind: r.kind,
        attempts: Number(r.attempts),
        next_attempt_at: r.next_attempt_at,
        last_error: r.last_error,
        created_at: r.created_at,
      })),
    }),
  );

  // ------------------------------------------------------------------ records
  recordRoutes(app, deps.store, {
    path: '/contacts',
    tag: 'contacts',
    singular: 'contact',
    item: schemas.Contact,
    input: schemas.ContactInput,
    patch: schemas.ContactPatch,
    listQuery: Type.Intersect([schemas.ListQuery, Type.Object({ account_id: Type.Optional(schemas.Id) })]),
    listSummary: 'List or search contacts (name, company, email, or a phone number in any format)',
    list: (query) => {
      const { account_id, ...q } = query as { account_id?: string } & schemas.ListQuery;
      return crm.listContacts({ ...q, ...(account_id ? { accountId: account_id } : {}) });
    },
    create: (body, userId) => crm.createContactRecord(body as schemas.ContactInput, userId),
    get: (id) => crm.getContact(id),
    update: (id, body) => crm.updateContact(id, body as schemas.ContactPatch),
    remove: (id) => crm.deleteContact(id),
    table: 'contacts',
  });
  recordRoutes(app, deps.store, {
    path: '/accounts',
    tag: 'accounts',
    singular: 'account',
    item: schemas.Account,
    input: schemas.AccountInput,
    patch: schemas.AccountPatch,
    listQuery: schemas.ListQuery,
    listSummary: 'List or search accounts (name, industry, city, website, or a phone number)',
    list: (query) => crm.listAccounts(query as schemas.ListQuery),
    create: (body, userId) => crm.createAccount(body as schemas.AccountInput, userId),
    get: (id) => crm.getAccount(id),
    update: (id, body) => crm.updateAccount(id, body as schemas.AccountPatch),
    remove: (id) => crm.deleteAccount(id),
    table: 'accounts',
    removeNote: 'its contacts stay, without account',
  });
  recordRoutes(app, deps.store, {
    path: '/leads',
    tag: 'leads',
    singular: 'lead',
    item: schemas.Lead,
    input: schemas.LeadInput,
    patch: schemas.LeadPatch,
    listQuery: schemas.ListQuery,
    listSummary: 'List or search leads (name, company, email, or a phone number)',
    list: (query) => crm.listLeads(query as schemas.ListQuery),
    create: (body, userId) => crm.createLead(body as schemas.LeadInput, userId),
    get: (id) => crm.getLead(id),
    update: (id, body) => crm.updateLead(id, body as schemas.LeadPatch),
    remove: (id) => crm.deleteLead(id),
    table: 'leads',
  });

  // ------------------------------------------------------------------ activities
  app.get(
    '/activities',
    {
      preValidation: requireUser,
      schema: {
        tags: ['activities'],
        summary: "A record's timeline, newest first (an account's includes its contacts')",
        querystring: Type.Object(
          {
            record_type: schemas.RecordTypeSchema,
            record_id: schemas.Id,
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
            offset: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
          },
          { additionalProperties: false },
        ),
        response: ok(schemas.Page(schemas.Activity)),
      },
    },
    async (request) => {
      const { record_type, record_id, limit, offset } = request.query;
      return crm.listActivities({ type: record_type, id: record_id }, { ...(limit ? { limit } : {}), ...(offset ? { offset } : {}) });
    },
  );
  app.post(
    '/activities',
    { preValidation: requireUser, schema: { tags: ['activities'], summary: 'Add a note to a record', body: schemas.NoteInput, response: created(schemas.Activity) } },
    async (request, reply) => reply.code(201).send(await crm.addNote(request.body, request.auth!.user.id)),
  );
  app.get(
    '/activities/:id',
    { preValidation: requireUser, schema: { tags: ['activities'], summary: 'One activity', params: IdParams, response: ok(schemas.Activity) } },
    async (request) => crm.getActivity(request.params.id),
  );
};

interface RecordResource {
  path: string;
  tag: string;
  singular: string;
  item: TSchema;
  input: TSchema;
  patch: TSchema;
  listQuery: TSchema;
  listSummary: string;
  list(query: unknown): Promise<unknown>;
  create(body: unknown, userId: string): Promise<unknown>;
  get(id: string): Promise<unknown>;
  update(id: string, body: unknown): Promise<unknown>;
  remove(id: string): Promise<void>;
  /** The table behind it: who may delete a record (record-access.ts). */
  table: RecordTable;
  removeNote?: string;
}

/** The five routes of a CRM record type: list/search, create, read, versioned update, delete. */
function recordRoutes(app: FastifyInstance, store: Store, r: RecordResource): void {
  const tags = [r.tag];
  const byId = `${r.path}/:id`;
  app.get(r.path, { preValidation: requireUser, schema: { tags, summary: r.listSummary, querystring: r.listQuery, response: ok(schemas.Page(r.item)) } }, async (request) =>
    r.list(request.query),
  );
  app.post(r.path, { preValidation: requireUser, schema: { tags, summary: `Create a ${r.singular}`, body: r.input, response: created(r.item) } }, async (request, reply) =>
    reply.code(201).send(await r.create(request.body, request.auth!.user.id)),
  );
  app.get(byId, { preValidation: requireUser, schema: { tags, summary: `One ${r.singular}`, params: IdParams, response: ok(r.item) } }, async (request) =>
    r.get((request.params as { id: string }).id),
  );
  app.patch(
    byId,
    {
      preValidation: requireUser,
      schema: {
        tags,
        summary: `Change a ${r.singular}. Send the \`version\` you read: a stale one gets 409 with the current record.`,
        params: IdParams,
        body: r.patch,
        response: ok(r.item),
      },
    },
    async (request) => r.update((request.params as { id: string }).id, request.body),
  );
  app.delete(
    byId,
    {
      preValidation: requireUser,
      schema: { tags, summary: `Delete a ${r.singular}${r.removeNote ? ` (${r.removeNote})` : ''}`, params: IdParams, response: { 204: Type.Null(), ...errors } },
    },
    async (request, reply) => {
      const id = (request.params as { id: string }).id;
      await assertMayDelete(store, r.table, id, request.auth!.user);
      await r.remove(id);
      return reply.code(204).send(null);
    },
  );
}

