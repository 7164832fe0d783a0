/**
 * /readyz with Salesforce behind the CRM port: the web server's readiness answer gains a
 * `salesforce` check (sign-in, sync progress, API budget), and is 503 while a setting is wrong or
 * the org unreachable — so a bad configuration shows up there, not as a failure on the first call.
 * It also hands the adapter to the web routes (`app.salesforce`): the softphone page may be framed
 * only by the org it is connected to.
 */
import type { FastifyInstance } from 'fastify';
import type { SalesforceCrm } from './adapter.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** The Salesforce adapter (CRM=salesforce), for the web routes that need the org (src/web/salesforce.ts). */
    salesforce?: SalesforceCrm;
  }
}

export function addSalesforceReadiness(app: FastifyInstance, crm: SalesforceCrm): void {
  if (!app.hasDecorator('salesforce')) app.decorate('salesforce', crm);
  app.addHook('onSend', async (request, reply, payload) => {
    if (request.url.split('?')[0] !== '/readyz' || typeof payload !== 'string') return payload;
    let body: { status?: string; checks?: Record<string, unknown> };
    try {
      body = JSON.parse(payload) as typeof body;
    } catch {
      return payload;
    }
    const health = await crm.health();
    body.checks = { ...body.checks, crm: 'salesforce', salesforce: health.ok ? 'ok' : health.problem, salesforce_sync: health.sync, salesforce_api: health.api };
    if (!health.ok) {
      body.status = 'not_ready';
      reply.code(503);
    }
    return JSON.stringify(body);
  });
}
