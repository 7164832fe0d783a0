/** The server-rendered pages: sign-in, settings, admin, and the built-in CRM. */
import type { FastifyInstance } from 'fastify';
import type { AuthOptions } from '../auth.ts';
import type { WebDeps } from '../index.ts';
import { accountPages } from './account-pages.ts';
import { phonePage } from './phone.ts';
import { recordPages } from './records.ts';
import { sessionPages } from './session-pages.ts';
import { ssoRoutes } from '../sso.ts';

export async function pageRoutes(app: FastifyInstance, opts: { deps: WebDeps; authOptions: AuthOptions }): Promise<void> {
  // Pages are never cached by shared caches and never framed by other sites.
  app.addHook('onSend', async (request, reply) => {
    if (String(reply.getHeader('content-type') ?? '').startsWith('text/html')) {
      reply.header('cache-control', 'no-store');
      reply.header('x-frame-options', 'SAMEORIGIN');
      reply.header('x-content-type-options', 'nosniff');
      reply.header('referrer-policy', 'same-origin');
      // The style hash is Turbo's progress-bar <style> (Turbo 8.0.23): recompute it when Turbo is upgraded.
      reply.header(
        'content-security-policy',
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'sha256-WAyOw4V+FqDc35lQPyRADLBWbuNK8ahvYEaQIYF1+Ps='; script-src 'self'; connect-src 'self' ws: wss:; media-src 'self' blob:; frame-ancestors 'self'",
      );
    }
  });
  await accountPages(app, opts.deps, opts.authOptions);
  await ssoRoutes(app, opts);
  await sessionPages(app, opts.deps, opts.authOptions);
  await recordPages(app, opts.deps);
  await phonePage(app);
}
