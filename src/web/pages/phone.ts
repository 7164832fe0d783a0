/**
 * `/phone`: the softphone on a page of its own, for people who keep it in a pinned tab or a small
 * window. The panel is the same permanent element as beside the CRM pages, so following a link
 * from here into the CRM (or back) keeps a call up.
 */
import type { FastifyInstance } from 'fastify';
import { requireUser } from '../auth.ts';
import { html } from '../html.ts';
import { document, softphonePanel } from './layout.ts';
import { context } from './records.ts';

export async function phonePage(app: FastifyInstance): Promise<void> {
  app.get('/phone', { preValidation: requireUser }, async (request, reply) => {
    const ctx = context(request);
    const body = html`<header class="topbar topbar-slim">
  <a class="brand" href="/" aria-label="Ringside home"><span aria-hidden="true">📞</span> Ringside</a>
  <div class="user-menu"><a href="/contacts">Contacts</a><span>${ctx.user.name}</span></div>
</header>
<main id="main" class="phone-page">
  <h1 class="visually-hidden">Phone</h1>
  ${softphonePanel()}
</main>`;
    return reply.type('text/html; charset=utf-8').send(document('Phone', body, { app: { user: ctx.user, csrf: ctx.csrf }, bodyClass: 'phone-body' }).value);
  });
}
