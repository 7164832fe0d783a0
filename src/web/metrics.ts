/**
 * Prometheus metrics (prom-client): process defaults, HTTP latency by route, database pool.
 * One registry per Ringside instance, so tests running several servers in a process don't mix.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ActivityOutbox } from '../activity/index.ts';
import type { AppServer } from '../appserver/index.ts';
import { isLoopbackHost } from '../config/index.ts';
import type { Store } from '../store/index.ts';
import type { PoolStats } from '../store/index.ts';

export function createMetrics(poolStats: () => PoolStats, engine: string): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'ringside_' });
  new Gauge({
    name: 'ringside_db_pool_connections',
    help: 'Database connections of this node by state (SQLite: one embedded connection)',
    labelNames: ['state', 'engine'],
    registers: [registry],
    collect() {
      const s = poolStats();
      this.set({ state: 'total', engine }, s.total);
      this.set({ state: 'idle', engine }, s.idle);
      this.set({ state: 'waiting', engine }, s.waiting);
    },
  });
  return registry;
}

/**
 * Who may read /metrics: clients on this machine (the address as TRUST_PROXY resolves it, so a
 * proxied outsider is not "local"), and, with METRICS_TOKEN, whoever sends it as a bearer token —
 * the figures name routes, users' call counts and the outbox, nothing for the internet.
 */
function mayReadMetrics(request: FastifyRequest, token: string | undefined): boolean {
  const given = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
  if (token && given !== undefined) {
    const [a, b] = [createHash('sha256').update(given).digest(), createHash('sha256').update(token).digest()];
    return timingSafeEqual(a, b);
  }
  return isLoopbackHost(request.ip.replace(/^::ffff:/i, ''));
}

export function registerHttpMetrics(app: FastifyInstance, registry: Registry, options: { token?: string | undefined } = {}): void {
  const histogram = new Histogram({
    name: 'ringside_http_request_duration_seconds',
    help: 'HTTP request latency by method, route and status',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  app.addHook('onResponse', async (request, reply) => {
    // The route pattern, not the URL: ids must not explode the label set.
    const route = request.routeOptions.url ?? 'unmatched';
    histogram.observe({ method: request.method, route, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });
  app.get('/metrics', { logLevel: 'warn' }, async (request, reply) => {
    if (!mayReadMetrics(request, options.token)) {
      return reply.code(403).type('text/plain').send(options.token ? 'Send METRICS_TOKEN as a bearer token\n' : 'Metrics are for this machine only (set METRICS_TOKEN to scrape from elsewhere)\n');
    }
    reply.type(registry.contentType);
    return registry.metrics();
  });
}

/** SIP figures: registrations, calls in progress and by outcome, transport traffic and rejections. */
export function registerSipMetrics(registry: Registry, sip: AppServer): void {
  new Gauge({
    name: 'ringside_sip_active_calls',
    help: 'Calls in progress on this node',
    registers: [registry],
    collect() {
      this.set(sip.activeCalls);
    },
  });
  new Gauge({
    name: 'ringside_sip_open_connections',
    help: 'Open SIP connections (TCP, TLS, WebSocket)',
    registers: [registry],
    collect() {
      this.set(sip.endpoint.transport.openFlows);
    },
  });
  statGauges(registry, sip.endpoint.transport.stats, [
    ['ringside_sip_messages_received_total', 'SIP messages received', 'received'],
    ['ringside_sip_messages_sent_total', 'SIP messages sent', 'sent'],
    ['ringside_sip_parse_errors_total', 'Malformed SIP messages received', 'parseErrors'],
    ['ringside_sip_rate_limited_total', 'SIP requests dropped by the per-address rate limit', 'rateLimited'],
  ]);
  const ended = new Counter({ name: 'ringside_calls_ended_total', help: 'Calls ended, by direction-independent cause', labelNames: ['cause'], registers: [registry] });
  const started = new Counter({ name: 'ringside_calls_started_total', help: 'Calls started, by direction', labelNames: ['direction'], registers: [registry] });
  sip.events.on('call.started', (e) => started.inc({ direction: e.direction }));
  sip.events.on('call.ended', (e) => ended.inc({ cause: e.cause }));
}

/** Delivery of activities to the CRM: counters, and what is waiting. */
export function registerOutboxMetrics(registry: Registry, outbox: ActivityOutbox, store: Store): void {
  statGauges(registry, outbox.stats, [
    ['ringside_activity_deliveries_total', 'Activities the CRM took', 'delivered'],
    ['ringside_activity_retries_total', 'Delivery attempts after a failed one', 'retried'],
    ['ringside_activity_failures_total', 'Delivery attempts the CRM refused or that errored (retried later)', 'failed'],
  ]);
  new Gauge({
    name: 'ringside_activity_undelivered',
    help: 'Activities waiting in the outbox',
    registers: [registry],
    async collect() {
      const row = await store.db.selectFrom('activity_outbox').select((eb) => eb.fn.countAll<number>().as('n')).where('delivered_at', 'is', null).executeTakeFirst();
      this.set(Number(row?.n ?? 0));
    },
  });
}

/**
 * Gauges that read live counters of a stats object at each scrape (the object counts; a gauge,
 * not a Counter, because the value is set rather than incremented here).
 */
function statGauges<S extends object>(registry: Registry, stats: S, rows: readonly (readonly [name: string, help: string, key: { [K in keyof S]: S[K] extends number ? K : never }[keyof S]])[]): void {
  for (const [name, help, key] of rows) {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(stats[key] as number);
      },
    });
  }
}
