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
  // Their security headers come from the root instance (security-headers.ts): every page gets them.
  await accountPages(app, opts.deps, opts.authOptions);
  await ssoRoutes(app, opts);
  await sessionPages(app, opts.deps, opts.authOptions);
  await recordPages(app, opts.deps);
  await phonePage(app);
}
