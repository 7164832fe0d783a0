/**
 * Web role: the HTTP(S) server — built-in CRM pages, the REST API (`/api/v1`, OpenAPI at
 * `/api/openapi.json`), health and metrics. Each feature is a fastify plugin owning its routes.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyCookie from '@fastify/cookie';
import fastifyFormbody from '@fastify/formbody';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { AppServer } from '../appserver/index.ts';
import type { SipGateway } from '../gateway/index.ts';
import type { CallDesk } from '../calls/index.ts';
import type { ActivityOutbox } from '../activity/index.ts';
import type { InvitationService } from '../invitations/index.ts';
import type { Mailer } from '../mail/index.ts';
import { trustFunction, type Config } from '../config/index.ts';
import type { BuiltinCrm } from '../crm/index.ts';
import type { PhoneNumbers } from '../phone/index.ts';
import type { SingleSignOn } from '../sso/index.ts';
import type { ServerSecret, Store } from '../store/index.ts';
import { AppError } from '../shared/errors.ts';
import type { LoginThrottle, SessionStore, UserDirectory } from '../users/index.ts';
import { httpsOnly, isApiRequest, registerAuth, sessionCookieName, type AuthOptions } from './auth.ts';
import { registerSecurityHeaders } from './security-headers.ts';
import { redactedRequest } from './log-redaction.ts';
import { html } from './html.ts';
import { registerHttpMetrics } from './metrics.ts';
import { apiRoutes } from './api/index.ts';
import { pageRoutes } from './pages/index.ts';
import { invitationRoutes } from './invitations.ts';
import { salesforceRoutes } from './salesforce.ts';
import { document } from './pages/layout.ts';
import { describeSchemaErrors, type SchemaError } from './validation.ts';

export { createMetrics, registerOutboxMetrics, registerSipMetrics } from './metrics.ts';
export { html, escapeHtml, type Html } from './html.ts';

export interface WebDeps {
  config: Config;
  store: Store;
  /** MAC key of the Salesforce hand-off (see store/server-secret.ts). */
  secret: ServerSecret;
  crm: BuiltinCrm;
  users: UserDirectory;
  sessions: SessionStore;
  throttle: LoginThrottle;
  phones: PhoneNumbers;
  metrics: Registry;
  logger: Logger;
  sip: AppServer;
  gateway: SipGateway;
  calls: CallDesk;
  outbox: ActivityOutbox;
  invitations: InvitationService;
  mailer: Mailer;
  sso: SingleSignOn;
}

export type App = FastifyInstance;

/** The widget and styles as `npm run build` (Vite) leaves them: fixed names, see vite.config.ts. */
const ASSETS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../web/dist/assets');

export async function createWebServer(deps: WebDeps): Promise<FastifyInstance> {
  const { config } = deps;
  const app = Fastify({
    // Request lines with join tokens, SIP tokens and OIDC codes masked (log-redaction.ts).
    loggerInstance: deps.logger.child({}, { serializers: { req: redactedRequest } }),
    bodyLimit: config.BODY_LIMIT_BYTES,
    // Only the configured proxies' X-Forwarded-For entries, read from the right (trust-proxy.ts).
    trustProxy: trustFunction(config.TRUST_PROXY) ?? false,
    ...(config.tls
      ? { https: { cert: readFileSync(config.TLS_CERT!), key: readFileSync(config.TLS_KEY!) } }
      : {}),
    ajv: {
      // Unknown fields are an error, never silently dropped; query strings are coerced from text.
      customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false },
    },
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as FastifyInstance;

  const authOptions: AuthOptions = {
    sessions: deps.sessions,
    secureCookies: httpsOnly(config),
    maxAgeSeconds: config.SESSION_MAX_HOURS * 3600,
  };

  app.setErrorHandler((error: FastifyError, request, reply) => sendError(error, request, reply));
  app.setNotFoundHandler((request, reply) => sendError(new AppError(404, 'not_found', 'Nothing here'), request, reply));

  await app.register(fastifyCookie);
  await app.register(fastifyFormbody, { bodyLimit: config.BODY_LIMIT_BYTES });
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Ringside API',
        version: '1',
        description:
          'Users, built-in CRM records and activities. Authenticate with `POST /api/v1/session`; send the returned `csrf_token` as `X-CSRF-Token` on every state-changing request. Errors are `{error:{code,message,field}}`.',
      },
      servers: [{ url: config.publicUrl }],
      components: { securitySchemes: { session: { type: 'apiKey', in: 'cookie', name: sessionCookieName(httpsOnly(config)) } } },
      security: [{ session: [] }],
    },
    hideUntagged: true,
  });
  // Fixed file names (the pages name them without a hash), so browsers revalidate each time
  // (ETag, 304) instead of keeping a stale build; with Turbo a tab fetches them once anyway.
  // The build writes .br and .gz beside each file: served to browsers that accept them.
  await app.register(fastifyStatic, { root: ASSETS_DIR, prefix: '/assets/', preCompressed: true, cacheControl: false, setHeaders: (reply) => reply.header('cache-control', 'no-cache') });

  registerAuth(app, authOptions);
  registerSecurityHeaders(app, { baseUrl: config.BASE_URL, https: httpsOnly(config) });
  registerHttpMetrics(app, deps.metrics, { token: config.METRICS_TOKEN });

  app.get('/healthz', { logLevel: 'warn' }, async () => ({ status: 'ok' }));
  app.get('/readyz', { logLevel: 'warn' }, async (_request, reply) => {
    try {
      await deps.store.ping();
      return { status: 'ready', checks: { database: 'ok', crm: deps.crm.kind } };
    } catch (err) {
      deps.logger.warn({ err }, 'readiness: database unreachable');
      return reply.code(503).send({ status: 'not_ready', checks: { database: 'unreachable' } });
    }
  });

  app.decorate('adminPages', deps.config.CRM === 'salesforce' ? [{ href: '/admin/salesforce', label: 'Salesforce' }] : []);
  await app.register(apiRoutes, { prefix: '/api/v1', deps, authOptions });
  app.get('/api/openapi.json', async () => app.swagger());
  await app.register(pageRoutes, { deps, authOptions });
  await app.register(invitationRoutes, { deps });
  await salesforceRoutes(app, deps); // not encapsulated: its bearer-session hook covers the API too
  return app;
}

/** Every error leaves as `{error:{code,message,field}}` (API) or a plain page; details only in the log. */
function sendError(err: FastifyError | AppError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  let status = 500;
  let body: { code: string; message: string; field?: string; [k: string]: unknown };
  const fe = err as FastifyError;
  if (err instanceof AppError) {
    status = err.status;
    body = { code: err.code, message: err.message, ...(err.field ? { field: err.field } : {}), ...err.extra };
    if (status === 429 && typeof err.extra?.retry_after_s === 'number') reply.header('retry-after', String(err.extra.retry_after_s));
  } else if (fe.validation) {
    status = 400;
    const { field, message } = describeSchemaErrors(fe.validation as unknown as SchemaError[], fe.validationContext);
    body = { code: 'validation_failed', message, field };
  } else if (fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || (fe.statusCode === 400 && err instanceof SyntaxError)) {
    status = 400;
    body = { code: 'invalid_json', message: 'The request body is not valid JSON' };
  } else if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    status = 413;
    body = { code: 'body_too_large', message: 'The request body is too large' };
  } else if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    status = 415;
    body = { code: 'unsupported_media_type', message: 'Send application/json' };
  } else if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    status = fe.statusCode;
    body = { code: (fe.code ?? 'bad_request').toLowerCase(), message: err.message };
  } else {
    request.log.error({ err }, 'request failed');
    body = { code: 'internal', message: 'Something went wrong on our side. It has been logged.' };
  }
  if (status >= 400 && status < 500 && status !== 404) request.log.info({ code: body.code, field: body.field }, body.message);
  reply.code(status);
  if (isApiRequest(request) || !String(request.headers.accept ?? '').includes('text/html')) {
    return reply.send({ error: body });
  }
  const title = status === 404 ? 'Not found' : status === 403 ? 'Not allowed' : status >= 500 ? 'Something went wrong' : 'That did not work';
  return reply
    .type('text/html; charset=utf-8')
    .send(
      document(
        title,
        html`<main class="narrow" id="main"><h1>${title}</h1><p>${status === 404 ? 'The page or record you asked for does not exist.' : body.message}</p><p><a href="/">Back to Ringside</a></p></main>`,
      ).value,
    );
}
