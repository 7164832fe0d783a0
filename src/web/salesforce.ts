/**
 * Ringside inside Salesforce (Open CTI, contract §7–§8):
 *
 * - `GET /salesforce/softphone`: the widget in a compact layout for the call center's softphone
 *   panel. It loads the org's Open CTI script (`/support/api/{v}/lightning/opencti_min.js` on the
 *   origin Salesforce names in `sfdcIframeOrigin`, else the referrer's) and is the only page that
 *   other sites may frame: its CSP allows the connected org's origins (`salesforceOrigins`) in
 *   `script-src` and `frame-ancestors` — and no other Salesforce customer's.
 * - Sign-in without cross-site cookies: inside the Salesforce iframe the session cookie is a
 *   third-party cookie, which current browsers block. The iframe opens `GET /salesforce/login` in
 *   a popup — a first-party window, where the cookie (or the sign-in page) works — which hands the
 *   iframe a one-minute, one-time token through `window.opener.postMessage` (to this origin only).
 *   The iframe trades it at `POST /salesforce/session` for a session of its own (listed and
 *   revocable like any other), and sends that as `Authorization: Bearer` on its API requests; the
 *   SIP WebSocket uses the usual one-minute `/sip?token=` from `/api/v1/sip-token`.
 * - `GET /salesforce/callcenter.xml`: the call center definition file with this server's adapter URL.
 * - `GET /admin/salesforce` (administrators): sign-in, the mirror's initial sync (records synced of
 *   total, time left) and polls, the API budget, and the call logs waiting in the outbox.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { renderCallCenterXml } from '../crm/salesforce/callcenter.ts';
import { AppError } from '../shared/errors.ts';
import type { SalesforceHealth } from '../crm/salesforce/adapter.ts';
import { checkOrigin, httpsOnly, requireAdmin } from './auth.ts';
import { pageCsp } from './security-headers.ts';
import { html, type Html } from './html.ts';
import type { WebDeps } from './index.ts';
import { ASSETS, layout } from './pages/layout.ts';
import { context } from './pages/records.ts';

/** The Salesforce bundle (vite.config.ts): the softphone page and the login popup's hand-off. */
export const SALESFORCE_SCRIPT = '/assets/salesforce.js';
export const SALESFORCE_STYLE = '/assets/salesforce.css';
const HANDOFF_TTL_MS = 60_000;
function originOf(url: string): string | null {
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.origin : null;
  } catch {
    return null;
  }
}

/**
 * The origins of the org Ringside is connected to, which may frame the softphone and serve it the
 * Open CTI script: the instance (My Domain) the integration user signed in to, its Lightning and
 * setup twins (`acme.my.salesforce.com` → `acme.lightning.force.com`, `acme.my.salesforce-setup.com`;
 * sandboxes and developer orgs alike), and SALESFORCE_LOGIN_URL's origin when it is a My Domain (or
 * the test stand-in). Never all of `*.force.com`: anyone can host pages and scripts there.
 */
export function salesforceOrigins(instanceUrl: string | null | undefined, loginUrl: string): string[] {
  const out = new Set<string>();
  const login = originOf(loginUrl);
  if (login && !/^https:\/\/(login|test)\.salesforce\.com$/.test(login)) out.add(login);
  const instance = instanceUrl ? originOf(instanceUrl) : null;
  if (instance) {
    out.add(instance);
    const my = /^https:\/\/(.+)\.my\.salesforce\.com$/.exec(instance);
    if (my) {
      out.add(`https://${my[1]}.lightning.force.com`);
      out.add(`https://${my[1]}.my.salesforce-setup.com`);
    }
  }
  return [...out];
}

/** This server's public base URL: BASE_URL, else the request's own. */
function baseUrl(deps: WebDeps, request: FastifyRequest): string {
  return deps.config.BASE_URL ?? `${request.protocol}://${request.host}`;
}

export async function salesforceRoutes(app: FastifyInstance, deps: WebDeps): Promise<void> {
  const { config, sessions } = deps;
  const headerOptions = { baseUrl: config.BASE_URL, https: httpsOnly(config) };
  const orgOrigins = () => (config.CRM === 'salesforce' ? salesforceOrigins(app.salesforce?.client?.instanceUrl, config.SALESFORCE_LOGIN_URL) : []);
  const sign = (payload: string) => deps.secret.sign('sf-handoff', payload);

  // The iframe's own session, sent as a bearer token (no cookie reaches a third-party iframe).
  // Registered on the root instance, after the cookie's hook: it applies to the API too.
  app.addHook('onRequest', async (request) => {
    if (request.auth) return;
    const m = /^Bearer ([A-Za-z0-9_-]{20,100})$/.exec(request.headers.authorization ?? '');
    if (m) request.auth = (await sessions.resolve(m[1]!)) ?? null;
  });

  const page = (reply: FastifyReply, csp: string, body: string) =>
    reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'same-origin')
      .header('content-security-policy', csp)
      .send(body);

  app.get('/salesforce/callcenter.xml', async (request, reply) => {
    const xml = renderCallCenterXml({ publicUrl: baseUrl(deps, request) });
    return reply.type('application/xml; charset=utf-8').header('content-disposition', 'attachment; filename="RingsideCallCenter.xml"').send(xml);
  });

  app.get('/salesforce/softphone', async (request, reply) => {
    const q = request.query as { sfdcIframeOrigin?: unknown };
    const given = typeof q.sfdcIframeOrigin === 'string' ? q.sfdcIframeOrigin : '';
    const origins = orgOrigins();
    const sfOrigin = origins.includes(given.replace(/\/$/, '')) ? given.replace(/\/$/, '') : '';
    const body = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Ringside softphone</title>
<meta name="ringside-sf-origin" content="${sfOrigin}">
<meta name="ringside-sf-api" content="${config.SALESFORCE_API_VERSION}">
<link rel="stylesheet" href="${ASSETS.style}">
<link rel="stylesheet" href="${SALESFORCE_STYLE}">
<script type="module" src="${SALESFORCE_SCRIPT}"></script>
</head>
<body class="sf-body">
<main id="main" class="sf-softphone">
  <section id="ringside-sf-signin" class="sf-signin" hidden>
    <p><strong>Ringside</strong></p>
    <p class="small muted">Sign in to take and place calls here.</p>
    <button type="button" class="button primary" id="ringside-sf-login">Sign in to Ringside</button>
    <p class="small" id="ringside-sf-signin-note" role="status"></p>
  </section>
  <aside id="ringside-softphone" class="softphone sf-panel" aria-label="Phone" hidden></aside>
</main>
</body>
</html>`;
    // Framed by the org only (and ourselves); scripts from here and the org's Open CTI.
    const list = origins.map((o) => ` ${o}`).join('');
    const csp = pageCsp(headerOptions, request, { styleSrc: '', scriptSrc: list, frameAncestors: `'self'${list}` });
    return page(reply, csp, body.value);
  });

  // The popup: signed in first-party (or sent to sign in), it hands the iframe a one-time token.
  app.get('/salesforce/login', async (request, reply) => {
    const q = request.query as { state?: unknown };
    const state = typeof q.state === 'string' && /^[A-Za-z0-9_-]{16,64}$/.test(q.state) ? q.state : '';
    if (!request.auth) return reply.redirect(`/login?next=${encodeURIComponent(`/salesforce/login?state=${state}`)}`, 303);
    const payload = Buffer.from(JSON.stringify({ u: request.auth.user.id, s: request.auth.session.id, e: Date.now() + HANDOFF_TTL_MS, n: randomBytes(12).toString('base64url') })).toString('base64url');
    const token = `${payload}.${sign(payload)}`;
    const body = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Ringside · signed in</title>
<meta name="ringside-sf-handoff" content="${token}">
<meta name="ringside-sf-state" content="${state}">
<link rel="stylesheet" href="${ASSETS.style}">
<script type="module" src="${SALESFORCE_SCRIPT}"></script>
</head>
<body class="sf-body">
<main class="sf-signin"><p>Signed in as ${request.auth.user.name}.</p><p class="small muted" id="ringside-sf-handoff-note">You can close this window.</p></main>
</body>
</html>`;
    return page(reply, "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'", body.value);
  });

  // The iframe trades the popup's token for a session of its own.
  app.post('/salesforce/session', { config: { csrf: false } }, async (request, reply) => {
    checkOrigin(request);
    const b = (request.body ?? {}) as { token?: unknown };
    const [payload, signature] = typeof b.token === 'string' ? b.token.split('.') : [];
    const refused = new AppError(401, 'unauthenticated', 'This sign-in link has expired: sign in again.');
    if (!payload || !signature) throw refused;
    if (!deps.secret.verify('sf-handoff', payload, signature)) throw refused;
    let data: { u?: string; s?: string; e?: number; n?: string };
    try {
      data = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as typeof data;
    } catch {
      throw refused;
    }
    const now = Date.now();
    if (!data.u || !data.s || !data.n || !data.e || data.e < now) throw refused;
    // Once, on whichever node it reaches first (the nonce's row in the shared database).
    if (!(await deps.store.consumeOnce(`sf-handoff:${data.n}`, data.e, now))) throw refused;
    // The popup's session must still be alive: the token outlives nothing.
    const user = await sessions.userOfSession(data.s);
    if (!user || user.id !== data.u) throw refused;
    const ua = request.headers['user-agent'];
    const created = await sessions.create(user.id, { ip: request.ip, ...(ua ? { userAgent: `Salesforce softphone · ${ua}` } : {}) });
    return reply.header('cache-control', 'no-store').send({
      token: created.token,
      csrf_token: created.session.csrf_token,
      user: { id: user.id, name: user.name, email: user.email },
    });
  });

  // The Salesforce connection at a glance, for administrators. What the adapter reports on /readyz
  // (its readiness hook is the web layer's only view of it) plus the outbox's waiting rows.
  app.get('/admin/salesforce', { preValidation: requireAdmin }, async (request, reply) => {
    const ctx = context(request);
    let checks: { crm?: string; salesforce?: string; salesforce_sync?: SalesforceHealth['sync']; salesforce_api?: SalesforceHealth['api'] } = {};
    try {
      checks = ((await app.inject({ method: 'GET', url: '/readyz' })).json() as { checks?: typeof checks }).checks ?? {};
    } catch {
      // no answer: shown as unknown
    }
    const waiting = await deps.outbox.undelivered(20);
    const sync = checks.salesforce_sync;
    const api = checks.salesforce_api;
    const when = (iso: string | null | undefined) => (iso ? new Date(iso).toISOString().replace('T', ' ').slice(0, 19) + ' UTC' : '—');
    const eta = (s: number | null) => (s === null ? '' : s < 90 ? `, about ${Math.max(1, Math.round(s))} s left` : `, about ${Math.round(s / 60)} min left`);
    let body: Html;
    if (config.CRM !== 'salesforce') {
      body = html`<h1>Salesforce</h1><p>Calls are logged to the built-in CRM. To use Salesforce, set <code>CRM=salesforce</code> and the <code>SALESFORCE_*</code> settings (see docs/salesforce.md).</p>`;
    } else {
      const objects = (sync?.objects ?? []).map((o) => html`<tr><td>${o.sobject}</td><td>${o.phase === 'initial' ? 'initial sync' : 'kept fresh'}</td><td>${o.synced.toLocaleString('en')} of ${o.total.toLocaleString('en')}</td></tr>`);
      const rows = waiting.map((r) => html`<tr><td>${r.kind}</td><td>${r.idempotency_key}</td><td>${String(r.attempts)}</td><td>${when(r.next_attempt_at)}</td><td>${r.last_error ?? ''}</td></tr>`);
      body = html`<h1>Salesforce</h1>
<section aria-labelledby="sf-connection">
  <h2 id="sf-connection">Connection</h2>
  <p id="sf-status" data-ok="${checks.salesforce === 'ok' ? 'true' : 'false'}">${checks.salesforce === 'ok' ? 'Connected' : `Not working: ${checks.salesforce ?? 'unknown'}`}</p>
  <p class="small muted">Login URL ${config.SALESFORCE_LOGIN_URL} · integration user ${config.SALESFORCE_USERNAME ?? '—'} · API ${config.SALESFORCE_API_VERSION}</p>
</section>
<section aria-labelledby="sf-sync">
  <h2 id="sf-sync">Phone-number mirror</h2>
  <p id="sf-sync-progress" data-state="${sync?.state ?? 'unknown'}">${
    !sync
      ? 'Unknown'
      : sync.state === 'ready'
        ? `Ready: ${sync.synced.toLocaleString('en')} records mirrored; last change fetched ${when(sync.lastPollAt ?? sync.completedAt)}`
        : sync.state === 'initial'
          ? `Initial sync: ${sync.synced.toLocaleString('en')} of ${sync.total.toLocaleString('en')} records (${sync.percent} %)${eta(sync.etaSeconds)}`
          : 'Not started'
  }</p>
  ${sync?.lastError ? html`<p class="error">Last sync error: ${sync.lastError}</p>` : ''}
  ${objects.length ? html`<table><thead><tr><th>Object</th><th>Phase</th><th>Records</th></tr></thead><tbody>${objects}</tbody></table>` : ''}
</section>
<section aria-labelledby="sf-api">
  <h2 id="sf-api">API budget</h2>
  <p id="sf-api-usage">${api?.used != null && api.max != null ? `${api.used.toLocaleString('en')} of ${api.max.toLocaleString('en')} daily API requests used` : 'Not known yet'}${api?.low ? ' — under the reserve: batching harder, polling less' : ''}${api?.limitedUntil ? ` — paused after REQUEST_LIMIT_EXCEEDED until ${when(api.limitedUntil)}` : ''}</p>
  <p class="small muted">${String(api?.requests ?? 0)} requests by this server since it started.</p>
</section>
<section aria-labelledby="sf-outbox">
  <h2 id="sf-outbox">Waiting to be logged</h2>
  ${rows.length ? html`<table><thead><tr><th>Kind</th><th>Key</th><th>Attempts</th><th>Next attempt</th><th>Last error</th></tr></thead><tbody>${rows}</tbody></table>` : html`<p id="sf-outbox-empty">Nothing: every call is logged.</p>`}
</section>`;
    }
    // The headers of every page (security-headers.ts).
    return reply.type('text/html; charset=utf-8').send(layout(ctx, 'Salesforce', body).value);
  });
}
