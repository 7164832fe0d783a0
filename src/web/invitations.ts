/**
 * Invitations on the web: the JSON API (`/api/v1/invitations`), the user's pages (the "Invite to
 * video call" form, the list with Resend / Change time / Cancel) and the guest's `/join/<token>`
 * pages (countdown, join, ended, not found — rate-limited, revealing nothing about other links).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifyRateLimit from '@fastify/rate-limit';
import { Type, type TSchema } from 'typebox';
import { Nullable } from '../crm/schemas.ts';
import { describeWindow, utcToZonedLocal, type InvitationInput, type InvitationView } from '../invitations/index.ts';
import { AppError } from '../shared/errors.ts';
import type { User } from '../store/index.ts';
import { requireUser } from './auth.ts';
import { pageCsp } from './security-headers.ts';
import { html, jsonForScript, type Html } from './html.ts';
import type { WebDeps } from './index.ts';
import { document, field, formErrorBanner, formatDateTime, layout, type FieldSpec, type PageContext } from './pages/layout.ts';
import type { FieldError } from './validation.ts';

const ErrorBody = Type.Object({ error: Type.Object({ code: Type.String(), message: Type.String(), field: Type.Optional(Type.String()) }, { additionalProperties: true }) });
const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 413: ErrorBody };
const ok = <T extends TSchema>(schema: T) => ({ 200: schema, ...errors });

const InvitationSchema = Type.Object({
  id: Type.String(),
  email: Type.String(),
  guest_name: Nullable(Type.String()),
  subject: Type.String(),
  message: Nullable(Type.String()),
  starts_at: Type.String({ format: 'date-time' }),
  ends_at: Type.String({ format: 'date-time' }),
  time_zone: Type.String(),
  opens_at: Type.String({ format: 'date-time', description: 'From when the link lets the guest in' }),
  status: Type.Union([Type.Literal('scheduled'), Type.Literal('cancelled')]),
  state: Type.Union([Type.Literal('upcoming'), Type.Literal('open'), Type.Literal('ended'), Type.Literal('cancelled')]),
  sequence: Type.Integer(),
  record: Nullable(Type.Object({ type: Type.String(), id: Type.String(), name: Nullable(Type.String()), url: Type.String() })),
  link: Nullable(Type.String({ description: "The guest's join link (null once cancelled)" })),
  mail: Nullable(
    Type.Object({
      state: Type.Union([Type.Literal('queued'), Type.Literal('sent'), Type.Literal('retrying')]),
      attempts: Type.Integer(),
      last_error: Nullable(Type.String()),
      sent_at: Nullable(Type.String()),
    }),
  ),
  created_at: Type.String(),
});

const Window = {
  starts_at: Type.String({ maxLength: 40, description: 'ISO 8601 with offset, or local `YYYY-MM-DDTHH:mm` in time_zone' }),
  ends_at: Type.String({ maxLength: 40 }),
  time_zone: Type.Optional(Nullable(Type.String({ maxLength: 64, description: "IANA time zone; the user's by default" }))),
};

const CreateBody = Type.Object(
  {
    email: Type.String({ maxLength: 1000 }),
    guest_name: Type.Optional(Nullable(Type.String({ maxLength: 1000 }))),
    subject: Type.Optional(Nullable(Type.String({ maxLength: 1000 }))),
    message: Type.Optional(Nullable(Type.String({ maxLength: 20_000 }))),
    ...Window,
    record_type: Type.Optional(Nullable(Type.Union([Type.Literal('contact'), Type.Literal('lead'), Type.Literal('account')]))),
    record_id: Type.Optional(Nullable(Type.String({ format: 'uuid' }))),
  },
  { additionalProperties: false },
);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function inputOf(body: Record<string, unknown>): InvitationInput {
  const str = (k: string) => (typeof body[k] === 'string' ? (body[k] as string) : null);
  const type = str('record_type');
  const id = str('record_id');
  return {
    email: str('email') ?? '',
    guest_name: str('guest_name'),
    subject: str('subject'),
    message: str('message'),
    starts_at: str('starts_at') ?? '',
    ends_at: str('ends_at') ?? '',
    time_zone: str('time_zone'),
    record: (type === 'contact' || type === 'lead' || type === 'account') && id && UUID.test(id) ? { type, id: id.toLowerCase() } : null,
  };
}

export async function invitationRoutes(app: FastifyInstance, { deps }: { deps: WebDeps }): Promise<void> {
  const { invitations } = deps;

  // ------------------------------------------------------------------ API
  await app.register(
    async (api) => {
      api.removeAllContentTypeParsers();
      api.addContentTypeParser('application/json', { parseAs: 'string' }, api.getDefaultJsonParser('error', 'error'));
      const tags = ['invitations'];

      api.get(
        '/invitations',
        {
          preValidation: requireUser,
          schema: {
            tags,
            summary: "The user's invitations: upcoming (soonest first) or past and cancelled (latest first)",
            querystring: Type.Object({ scope: Type.Optional(Type.Union([Type.Literal('upcoming'), Type.Literal('past')])) }, { additionalProperties: false }),
            response: ok(Type.Object({ data: Type.Array(InvitationSchema) })),
          },
        },
        async (request) => ({ data: await invitations.list(request.auth!.user.id, (request.query as { scope?: 'upcoming' | 'past' }).scope ?? 'upcoming') }),
      );
      api.post(
        '/invitations',
        {
          preValidation: requireUser,
          schema: {
            tags,
            summary: 'Invite someone to a video call: stored, logged on the record, mailed with an .ics',
            body: CreateBody,
            response: { 201: Type.Object({ invitation: InvitationSchema, delivery: Type.Union([Type.Literal('smtp'), Type.Literal('file')]) }), ...errors },
          },
        },
        async (request, reply) => {
          const invitation = await invitations.create(request.auth!.user, inputOf(request.body as Record<string, unknown>));
          return reply.code(201).send({ invitation, delivery: deps.mailer.kind });
        },
      );
      api.get(
        '/invitations/:id',
        { preValidation: requireUser, schema: { tags, summary: 'One invitation', params: Type.Object({ id: Type.String() }), response: ok(InvitationSchema) } },
        async (request) => invitations.get(request.auth!.user.id, (request.params as { id: string }).id),
      );
      api.post(
        '/invitations/:id/resend',
        { preValidation: requireUser, schema: { tags, summary: 'Mail the invitation again', params: Type.Object({ id: Type.String() }), response: ok(InvitationSchema) } },
        async (request) => invitations.resend(request.auth!.user, (request.params as { id: string }).id),
      );
      api.put(
        '/invitations/:id/time',
        {
          preValidation: requireUser,
          schema: {
            tags,
            summary: 'Change the time: the guest gets an updated .ics (SEQUENCE + 1)',
            params: Type.Object({ id: Type.String() }),
            body: Type.Object(Window, { additionalProperties: false }),
            response: ok(InvitationSchema),
          },
        },
        async (request) => {
          const body = request.body as { starts_at: string; ends_at: string; time_zone?: string | null };
          return invitations.reschedule(request.auth!.user, (request.params as { id: string }).id, body);
        },
      );
      api.post(
        '/invitations/:id/cancel',
        { preValidation: requireUser, schema: { tags, summary: 'Cancel: the link stops working, the guest gets a cancellation', params: Type.Object({ id: Type.String() }), response: ok(InvitationSchema) } },
        async (request) => invitations.cancel(request.auth!.user, (request.params as { id: string }).id),
      );
    },
    { prefix: '/api/v1' },
  );

  // ------------------------------------------------------------------ the user's pages
  const page = (request: FastifyRequest): PageContext => ({ user: request.auth!.user, csrf: request.auth!.session.csrf_token, path: request.url });
  const send = (reply: FastifyReply, body: Html, status = 200) => reply.code(status).type('text/html; charset=utf-8').send(body.value);

  app.get('/invitations', { preValidation: requireUser }, async (request, reply) => {
    const ctx = page(request);
    const scope = (request.query as { scope?: string }).scope === 'past' ? 'past' : 'upcoming';
    const list = await invitations.list(ctx.user.id, scope);
    const body = html`<h1>Video call invitations</h1>
      <nav class="tabs" aria-label="Invitations">
        <a href="/invitations" ${scope === 'upcoming' ? html`aria-current="page"` : ''}>Upcoming</a>
        <a href="/invitations?scope=past" ${scope === 'past' ? html`aria-current="page"` : ''}>Past and cancelled</a>
      </nav>
      ${list.length === 0
        ? html`<p class="empty">${scope === 'upcoming' ? html`No upcoming invitations. Use ✉ next to a contact’s email to invite them to a video call.` : 'Nothing here yet.'}</p>`
        : html`<ul class="invitation-list">${list.map((i) => invitationItem(ctx, i))}</ul>`}`;
    return send(reply, layout(ctx, 'Invitations', body));
  });

  app.get('/invitations/new', { preValidation: requireUser }, async (request, reply) => {
    const ctx = page(request);
    const q = request.query as Record<string, string | undefined>;
    return send(reply, inviteForm(ctx, defaults(ctx.user, q, await recordName(q), invitations.now()), undefined, deps.mailer.kind));
  });

  async function recordName(q: Record<string, unknown>): Promise<string | null> {
    const type = q.record_type;
    const id = q.record_id;
    if ((type !== 'contact' && type !== 'lead' && type !== 'account') || typeof id !== 'string' || !UUID.test(id)) return null;
    return (await deps.crm.getRecord({ type, id }).catch(() => null))?.name ?? null;
  }

  app.post('/invitations', { preValidation: requireUser }, async (request, reply) => {
    const ctx = page(request);
    const body = (request.body ?? {}) as Record<string, unknown>;
    try {
      const created = await invitations.create(ctx.user, inputOf(body));
      return reply.redirect(`/invitations/${created.id}?sent=1`, 303);
    } catch (err) {
      if (err instanceof AppError && err.field) {
        const values = Object.fromEntries(Object.entries(body).filter(([, v]) => typeof v === 'string')) as Record<string, string>;
        return send(reply, inviteForm(ctx, { ...values, record_name: await recordName(body) }, { field: err.field, message: err.message }, deps.mailer.kind), err.status);
      }
      throw err;
    }
  });

  app.get('/invitations/:id', { preValidation: requireUser }, async (request, reply) => {
    const ctx = page(request);
    const inv = await invitations.get(ctx.user.id, (request.params as { id: string }).id);
    const q = request.query as Record<string, string | undefined>;
    return send(reply, layout(ctx, inv.subject, invitationPage(ctx, inv, q, deps.mailer.kind)));
  });

  const act = (path: string, run: (user: User, id: string, body: Record<string, unknown>) => Promise<unknown>, done: string) =>
    app.post(`/invitations/:id/${path}`, { preValidation: requireUser }, async (request, reply) => {
      const ctx = page(request);
      const id = (request.params as { id: string }).id;
      const body = (request.body ?? {}) as Record<string, unknown>;
      try {
        await run(ctx.user, id, body);
        return reply.redirect(`/invitations/${id}?done=${done}`, 303);
      } catch (err) {
        if (err instanceof AppError && err.field) {
          const inv = await invitations.get(ctx.user.id, id);
          const values = { starts_at: String(body.starts_at ?? ''), ends_at: String(body.ends_at ?? '') };
          return send(reply, layout(ctx, inv.subject, invitationPage(ctx, inv, {}, deps.mailer.kind, { error: { field: err.field, message: err.message }, values })), err.status);
        }
        throw err;
      }
    });
  act('resend', (user, id) => invitations.resend(user, id), 'resent');
  // The form's times are in the user's zone (as shown), whatever zone the invitation had.
  act('time', (user, id, body) => invitations.reschedule(user, id, { starts_at: String(body.starts_at ?? ''), ends_at: String(body.ends_at ?? ''), time_zone: user.time_zone }), 'moved');
  act('cancel', (user, id) => invitations.cancel(user, id), 'cancelled');

  // ------------------------------------------------------------------ the guest's pages
  await app.register(async (guest) => {
    // Guessing links is pointless (128-bit MACs), but a flood of lookups is still refused early.
    await guest.register(fastifyRateLimit, { max: 60, timeWindow: '1 minute' });
    // The guest's page runs only our script (its config is JSON, never executed) and is never framed.
    // (The root's hook, security-headers.ts, adds no-store, nosniff and the rest.)
    guest.addHook('onSend', async (request, reply) => {
      if (!String(reply.getHeader('content-type') ?? '').startsWith('text/html')) return;
      reply.header('x-frame-options', 'DENY');
      reply.header('content-security-policy', pageCsp({ baseUrl: deps.config.BASE_URL, https: false }, request, { styleSrc: '', frameAncestors: "'none'" }));
    });
    guest.get('/join/:token', async (request, reply) => {
      const token = (request.params as { token: string }).token;
      const found = await invitations.join(token);
      if (found.state === 'not-found') return send(reply, guestDocument('Not found', html`<h1>This link does not work</h1><p>Check that you opened the whole link from your invitation.</p>`), 404);
      const inv = found.invitation;
      const when = describeWindow(Date.parse(inv.starts_at), Date.parse(inv.ends_at), inv.time_zone);
      if (found.state === 'ended') {
        return send(
          reply,
          guestDocument(
            'Invitation ended',
            html`<h1>This invitation has ended</h1>
              <p>The video call with ${found.host.name} was planned for ${when}.</p>
              <p>To talk to ${found.host.name}, write to <a href="mailto:${found.host.email}">${found.host.email}</a>${found.host.extension ? html` or call extension ${found.host.extension}` : ''}.</p>`,
          ),
        );
      }
      const config = {
        state: found.state,
        // The server's clock, which decides when the link opens: the page counts down by it.
        now: new Date(invitations.now()).toISOString(),
        opens_at: new Date(found.opensAt).toISOString(),
        starts_at: inv.starts_at,
        ends_at: inv.ends_at,
        time_zone: inv.time_zone,
        ws_path: `/sip?invite=${token}`,
        target: `sip:${found.host.sip_username}@${deps.config.SIP_DOMAIN}`,
        host_name: found.host.name,
        guest_name: inv.guest_name ?? '',
        // TURN only while the link is open, and only until its end: a link is no standing relay pass.
        ice_servers: deps.gateway.iceServers(`guest-${inv.id}`, { notAfter: found.state === 'open' ? Date.parse(inv.ends_at) : 0 }),
        ice_transport_policy: deps.config.ICE_RELAY_ONLY ? 'relay' : 'all',
      };
      if (found.state === 'upcoming') {
        return send(
          reply,
          guestDocument(
            inv.subject,
            html`<h1>${inv.subject}</h1>
              <p>with ${found.host.name}</p>
              <p class="guest-when"><time datetime="${inv.starts_at}">${when}</time></p>
              <p class="guest-countdown" data-opens-at="${config.opens_at}">You can join from ${formatDateTime(config.opens_at, inv.time_zone)}. This page opens the call then.</p>
              <script type="application/json" id="guest-config">${jsonForScript(config)}</script>`,
          ),
        );
      }
      return send(
        reply,
        guestDocument(
          inv.subject,
          html`<h1>${inv.subject}</h1>
            <p>with ${found.host.name} · <time datetime="${inv.starts_at}">${when}</time></p>
            <form class="guest-join" id="guest-join" novalidate>
              <div class="field"><label for="guest-name">Your name</label><input id="guest-name" name="name" value="${inv.guest_name ?? ''}" maxlength="100" autocomplete="name" required></div>
              <div class="guest-preview"><video id="guest-preview" autoplay muted playsinline aria-label="Your camera"></video></div>
              <div class="guest-devices">
                <div class="field"><label for="guest-camera">Camera</label><select id="guest-camera"></select></div>
                <div class="field"><label for="guest-microphone">Microphone</label><select id="guest-microphone"></select></div>
              </div>
              <p id="guest-message" class="guest-message" role="alert" hidden></p>
              <button type="submit" id="guest-join-button" class="primary">Join call</button>
            </form>
            <section id="guest-call" class="guest-call" hidden aria-label="Call">
              <video id="guest-remote" autoplay playsinline aria-label="${found.host.name}"></video>
              <p id="guest-status" aria-live="polite"></p>
              <div class="guest-controls">
                <button type="button" id="guest-mute" aria-pressed="false">Mute</button>
                <button type="button" id="guest-video" aria-pressed="false">Video off</button>
                <button type="button" id="guest-hangup" class="danger">Hang up</button>
              </div>
            </section>
            <script type="application/json" id="guest-config">${jsonForScript(config)}</script>`,
        ),
      );
    });
  });
}

/**
 * The guest's pages: no CRM, no softphone — only the guest script and the styles. No timed
 * `<meta http-equiv="refresh">` before the window: a page that reloads itself on a timer fails
 * WCAG 2.2.1 (axe-core's meta-refresh), and joining needs the script, whose countdown reloads.
 */
function guestDocument(title: string, main: Html): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title}</title>
<link rel="stylesheet" href="/assets/ringside.css">
<script type="module" src="/assets/guest.js"></script>
</head>
<body class="guest">
<main id="main" class="narrow guest-main">${main}</main>
</body>
</html>`;
}

// ------------------------------------------------------------------ the user's pages, rendered

interface FormValues {
  [k: string]: string | null | undefined;
}

/** The next half hour, for 30 minutes, in the user's zone; the address and record from the ✉ button. */
function defaults(user: User, q: Record<string, string | undefined>, recordName: string | null, now: number): FormValues {
  const start = Math.ceil((now + 60_000) / 1_800_000) * 1_800_000;
  return {
    email: q.email ?? '',
    guest_name: q.guest_name ?? recordName ?? '',
    starts_at: utcToZonedLocal(start, user.time_zone),
    ends_at: utcToZonedLocal(start + 1_800_000, user.time_zone),
    record_type: q.record_type ?? '',
    record_id: q.record_id ?? '',
    record_name: recordName,
    message: '',
    subject: '',
  };
}

const FORM_FIELDS: FieldSpec[] = [
  { name: 'email', label: 'Email', type: 'email', required: true, autocomplete: 'off', hint: 'Check the address: the link goes to whoever reads this mailbox.' },
  { name: 'guest_name', label: 'Guest’s name', autocomplete: 'off' },
  { name: 'starts_at', label: 'Start', type: 'datetime-local', required: true },
  { name: 'ends_at', label: 'End', type: 'datetime-local', required: true },
  { name: 'subject', label: 'Subject', autocomplete: 'off' },
  { name: 'message', label: 'Message (optional)', type: 'textarea' },
];

function inviteForm(ctx: PageContext, values: FormValues, error: FieldError | undefined, delivery: 'smtp' | 'file'): Html {
  const tz = ctx.user.time_zone;
  const fields = FORM_FIELDS.map((f) =>
    f.name === 'starts_at' || f.name === 'ends_at' ? { ...f, hint: f.name === 'starts_at' ? `Your time zone: ${tz}` : undefined } : f.name === 'subject' ? { ...f, hint: `Default: “Video call with ${ctx.user.name}”` } : f,
  ) as FieldSpec[];
  const body = html`<section class="card narrow" aria-labelledby="invite-heading">
    <h1 id="invite-heading">Invite to video call</h1>
    ${values.record_name ? html`<p class="muted">For ${values.record_name}</p>` : ''}
    ${formErrorBanner(error, FORM_FIELDS.map((f) => f.name))}
    <form method="post" action="/invitations" class="invite-form" novalidate>
      <input type="hidden" name="_csrf" value="${ctx.csrf}">
      <input type="hidden" name="record_type" value="${values.record_type ?? ''}">
      <input type="hidden" name="record_id" value="${values.record_id ?? ''}">
      <input type="hidden" name="time_zone" value="${tz}">
      ${fields.map((f) => field(f, values, error))}
      ${delivery === 'file' ? html`<p class="hint">No mail server is configured: the mail is saved under the data folder, and the link is shown on the next page for you to pass on.</p>` : ''}
      <div class="form-actions"><button type="submit">Send invitation</button> <a href="/invitations">Cancel</a></div>
    </form>
  </section>`;
  return layout(ctx, 'Invite to video call', body);
}

function mailLine(i: InvitationView, delivery: 'smtp' | 'file'): Html {
  if (!i.mail) return html``;
  if (i.mail.state === 'sent') return html`<span class="badge badge-ok">${delivery === 'file' ? 'Mail saved' : 'Mail sent'}</span>`;
  if (i.mail.state === 'queued') return html`<span class="badge">Mail queued</span>`;
  return html`<span class="badge badge-warn" title="${i.mail.last_error ?? ''}">Mail not sent yet — retrying (${String(i.mail.attempts)} attempts): ${i.mail.last_error ?? ''}</span>`;
}

const STATE_LABEL: Record<InvitationView['state'], string> = { upcoming: 'Upcoming', open: 'Open now', ended: 'Ended', cancelled: 'Cancelled' };

function invitationItem(ctx: PageContext, i: InvitationView): Html {
  return html`<li class="invitation-item">
    <a href="/invitations/${i.id}"><strong>${i.subject}</strong></a> · ${i.guest_name ? html`${i.guest_name} &lt;${i.email}&gt;` : i.email}
    <br><time datetime="${i.starts_at}">${formatDateTime(i.starts_at, ctx.user.time_zone)}</time> · <span class="badge">${STATE_LABEL[i.state]}</span>
  </li>`;
}

function invitationPage(
  ctx: PageContext,
  i: InvitationView,
  q: Record<string, string | undefined>,
  delivery: 'smtp' | 'file',
  form?: { error: FieldError; values: FormValues },
): Html {
  const tz = ctx.user.time_zone;
  const changeable = i.state === 'upcoming' || i.state === 'open';
  const done: Record<string, string> = { resent: 'The invitation was sent again.', moved: 'The new time was sent to the guest.', cancelled: 'The invitation is cancelled; the link no longer works.' };
  const notice = q.sent ? (delivery === 'file' ? 'Invitation saved. No mail server is configured, so the mail was written to the data folder: send the guest the link below.' : 'Invitation sent.') : q.done ? done[q.done] : undefined;
  const timeValues: FormValues = form?.values ?? { starts_at: utcToZonedLocal(Date.parse(i.starts_at), tz), ends_at: utcToZonedLocal(Date.parse(i.ends_at), tz) };
  return html`<nav class="breadcrumbs" aria-label="Breadcrumb"><a href="/invitations">Invitations</a> › <span aria-current="page">${i.subject}</span></nav>
    ${notice ? html`<p class="banner banner-ok" role="status">${notice}</p>` : ''}
    <section class="card">
      <h1>${i.subject}</h1>
      <dl class="facts">
        <dt>Guest</dt><dd>${i.guest_name ? html`${i.guest_name} · ` : ''}${i.email}</dd>
        ${i.record ? html`<dt>Record</dt><dd><a href="${i.record.url}">${i.record.name ?? i.record.type}</a></dd>` : ''}
        <dt>When</dt><dd>${describeWindow(Date.parse(i.starts_at), Date.parse(i.ends_at), i.time_zone)}</dd>
        <dt>Status</dt><dd><span class="badge">${STATE_LABEL[i.state]}</span> ${mailLine(i, delivery)}</dd>
        ${i.link ? html`<dt>Link</dt><dd><input class="copy-link" readonly value="${i.link}" aria-label="Join link"></dd>` : ''}
      </dl>
      ${changeable
        ? html`<div class="form-actions">
            <form method="post" action="/invitations/${i.id}/resend"><input type="hidden" name="_csrf" value="${ctx.csrf}"><button type="submit">Resend</button></form>
            <form method="post" action="/invitations/${i.id}/cancel" data-confirm="Cancel this invitation? The guest is told and the link stops working."><input type="hidden" name="_csrf" value="${ctx.csrf}"><button type="submit" class="danger">Cancel invitation</button></form>
          </div>
          <h2>Change time</h2>
          ${formErrorBanner(form?.error, ['starts_at', 'ends_at'])}
          <form method="post" action="/invitations/${i.id}/time" class="inline-form" novalidate>
            <input type="hidden" name="_csrf" value="${ctx.csrf}">
            ${field({ name: 'starts_at', label: 'Start', type: 'datetime-local', required: true, hint: `Your time zone: ${tz}` }, timeValues, form?.error)}
            ${field({ name: 'ends_at', label: 'End', type: 'datetime-local', required: true }, timeValues, form?.error)}
            <button type="submit">Change time</button>
          </form>`
        : ''}
    </section>`;
}
