/**
 * REST API `/api/v1`: session, users, contacts, accounts, leads, activities. Schemas first: each
 * route's TypeBox schemas validate the request, serialise the response and make the OpenAPI document.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type TSchema } from 'typebox';
import { schemas } from '../../crm/index.ts';
import { userSchemas } from '../../users/index.ts';
import { clearSessionCookie, requireAdmin, requireUser, setSessionCookie, type AuthOptions } from '../auth.ts';
import { signIn } from '../sign-in.ts';
import type { WebDeps } from '../index.ts';

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

  // ------------------------------------------------------------------ users
  app.get(
    '/users',
    { preValidation: requireUser, schema: { tags: ['users'], summary: 'All users', response: ok(Type.Object({ data: Type.Array(userSchemas.UserView) })) } },
    async () => ({ data: await users.list() }),
  );

  app.post(
    '/users',
    { preValidation: requireAdmin, schema: { tags: ['users'], summary: 'Add a user (admin)', body: userSchemas.UserInput, response: created(userSchemas.UserView) } },
    async (request, reply) => reply.code(201).send(await users.create(request.body)),
  );

  app.get(
    '/users/me',
    { preValidation: requireUser, schema: { tags: ['users'], summary: 'The signed-in user', response: ok(userSchemas.UserView) } },
    async (request) => users.view(request.auth!.user),
  );

  // ------------------------------------------------------------------ records
  app.get(
    '/contacts',
    {
      preValidation: requireUser,
      schema: {
        tags: ['contacts'],
        summary: 'List or search contacts (name, company, email, or a phone number in any format)',
        querystring: Type.Intersect([schemas.ListQuery, Type.Object({ account_id: Type.Optional(schemas.Id) })]),
        response: ok(schemas.Page(schemas.Contact)),
      },
    },
    async (request) => {
      const { account_id, ...q } = request.query as { account_id?: string } & schemas.ListQuery;
      return crm.listContacts({ ...q, ...(account_id ? { accountId: account_id } : {}) });
    },
  );
  app.post(
    '/contacts',
    { preValidation: requireUser, schema: { tags: ['contacts'], summary: 'Create a contact', body: schemas.ContactInput, response: created(schemas.Contact) } },
    async (request, reply) => reply.code(201).send(await crm.createContactRecord(request.body, request.auth!.user.id)),
  );
  app.get(
    '/contacts/:id',
    { preValidation: requireUser, schema: { tags: ['contacts'], summary: 'One contact', params: IdParams, response: ok(schemas.Contact) } },
    async (request) => crm.getContact(request.params.id),
  );
  app.patch(
    '/contacts/:id',
    {
      preValidation: requireUser,
      schema: {
        tags: ['contacts'],
        summary: 'Change a contact. Send the `version` you read: a stale one gets 409 with the current record.',
        params: IdParams,
        body: schemas.ContactPatch,
        response: ok(schemas.Contact),
      },
    },
    async (request) => crm.updateContact(request.params.id, request.body),
  );
  app.delete(
    '/contacts/:id',
    { preValidation: requireUser, schema: { tags: ['contacts'], summary: 'Delete a contact', params: IdParams, response: { 204: Type.Null(), ...errors } } },
    async (request, reply) => {
      await crm.deleteContact(request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/accounts',
    { preValidation: requireUser, schema: { tags: ['accounts'], summary: 'List or search accounts', querystring: schemas.ListQuery, response: ok(schemas.Page(schemas.Account)) } },
    async (request) => crm.listAccounts(request.query),
  );
  app.post(
    '/accounts',
    { preValidation: requireUser, schema: { tags: ['accounts'], summary: 'Create an account', body: schemas.AccountInput, response: created(schemas.Account) } },
    async (request, reply) => reply.code(201).send(await crm.createAccount(request.body, request.auth!.user.id)),
  );
  app.get(
    '/accounts/:id',
    { preValidation: requireUser, schema: { tags: ['accounts'], summary: 'One account', params: IdParams, response: ok(schemas.Account) } },
    async (request) => crm.getAccount(request.params.id),
  );
  app.patch(
    '/accounts/:id',
    { preValidation: requireUser, schema: { tags: ['accounts'], summary: 'Change an account (send `version`)', params: IdParams, body: schemas.AccountPatch, response: ok(schemas.Account) } },
    async (request) => crm.updateAccount(request.params.id, request.body),
  );
  app.delete(
    '/accounts/:id',
    { preValidation: requireUser, schema: { tags: ['accounts'], summary: 'Delete an account (its contacts stay, without account)', params: IdParams, response: { 204: Type.Null(), ...errors } } },
    async (request, reply) => {
      await crm.deleteAccount(request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/leads',
    { preValidation: requireUser, schema: { tags: ['leads'], summary: 'List or search leads', querystring: schemas.ListQuery, response: ok(schemas.Page(schemas.Lead)) } },
    async (request) => crm.listLeads(request.query),
  );
  app.post(
    '/leads',
    { preValidation: requireUser, schema: { tags: ['leads'], summary: 'Create a lead', body: schemas.LeadInput, response: created(schemas.Lead) } },
    async (request, reply) => reply.code(201).send(await crm.createLead(request.body, request.auth!.user.id)),
  );
  app.get(
    '/leads/:id',
    { preValidation: requireUser, schema: { tags: ['leads'], summary: 'One lead', params: IdParams, response: ok(schemas.Lead) } },
    async (request) => crm.getLead(request.params.id),
  );
  app.patch(
    '/leads/:id',
    { preValidation: requireUser, schema: { tags: ['leads'], summary: 'Change a lead (send `version`)', params: IdParams, body: schemas.LeadPatch, response: ok(schemas.Lead) } },
    async (request) => crm.updateLead(request.params.id, request.body),
  );
  app.delete(
    '/leads/:id',
    { preValidation: requireUser, schema: { tags: ['leads'], summary: 'Delete a lead', params: IdParams, response: { 204: Type.Null(), ...errors } } },
    async (request, reply) => {
      await crm.deleteLead(request.params.id);
      return reply.code(204).send(null);
    },
  );

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
