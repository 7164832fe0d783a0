/**
 * The built-in CRM pages: list with search, record page with timeline, create/edit forms, for
 * contacts, accounts and leads. One generic set of routes; each record type describes its form,
 * its list columns and its detail view.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TSchema } from 'typebox';
import { schemas, type Account, type Activity, type Contact, type Lead, type PageOf } from '../../crm/index.ts';
import type { RecordRef } from '../../crm/schemas.ts';
import { AppError, NotFoundError } from '../../shared/errors.ts';
import { requireUser } from '../auth.ts';
import { assertMayDelete, type RecordTable } from '../record-access.ts';
import { html, type Html } from '../html.ts';
import type { WebDeps } from '../index.ts';
import { formValidator, type FieldError } from '../validation.ts';
import {
  emailAddress,
  field,
  formErrorBanner,
  formatDateTime,
  layout,
  pagination,
  phoneList,
  phoneNumber,
  type FieldSpec,
  type PageContext,
  type RecordContext,
} from './layout.ts';
import { timeline, timelineFrame, type TimelineOptions } from './timeline.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type AnyRecord = { id: string; version: number; name: string };

interface RecordPages<R extends AnyRecord> {
  type: RecordRef['type'];
  path: string;
  singular: string;
  plural: string;
  inputSchema: TSchema;
  patchSchema: TSchema;
  formFields(deps: WebDeps): Promise<FieldSpec[]>;
  list(deps: WebDeps, q: string | undefined, offset: number): Promise<PageOf<R>>;
  get(deps: WebDeps, id: string): Promise<R>;
  create(deps: WebDeps, input: unknown, ownerId: string): Promise<R>;
  update(deps: WebDeps, id: string, patch: unknown): Promise<R>;
  remove(deps: WebDeps, id: string): Promise<void>;
  listColumns: string[];
  listRow(r: R): Html;
  detail(ctx: PageContext, r: R, deps: WebDeps): Promise<Html>;
  /** Field values of a record, for the edit form. */
  values(r: R): Record<string, unknown>;
}

export function context(request: FastifyRequest): PageContext {
  const auth = request.auth!;
  return { user: auth.user, csrf: auth.session.csrf_token, path: request.url, adminPages: request.server.adminPages };
}

function recordContext(type: RecordRef['type'], r: AnyRecord): RecordContext {
  return { type, id: r.id, name: r.name };
}

/**
 * What a record's timeline shows: its last 50 activities; an account's include its contacts'
 * (linked to them), and its frame names those contacts, so a call with one of them reloads it.
 */
async function timelineData(deps: WebDeps, ref: RecordRef, contacts?: { id: string }[]): Promise<{ activities: PageOf<Activity>; opts: TimelineOptions }> {
  const activities = await deps.crm.listActivities(ref, { limit: 50 });
  if (ref.type !== 'account') return { activities, opts: {} };
  const related = contacts ?? (await deps.crm.listContacts({ accountId: ref.id, limit: 200 })).data;
  return { activities, opts: { showRecordLinks: true, related: related.map((c) => ({ type: 'contact' as const, id: c.id })) } };
}

async function recordTimeline(ctx: PageContext, deps: WebDeps, ref: RecordRef, contacts?: { id: string }[]): Promise<Html> {
  const { activities, opts } = await timelineData(deps, ref, contacts);
  return timeline(ctx, ref, activities, opts);
}

const PHONE_HINT = 'Any format: (415) 555-0134, +44 20 7946 0958, 415.555.0134 x204';

const contactPages: RecordPages<Contact> = {
  type: 'contact',
  path: '/contacts',
  singular: 'Contact',
  plural: 'Contacts',
  inputSchema: schemas.ContactInput,
  patchSchema: schemas.ContactPatch,
  async formFields(deps) {
    const accounts = await deps.crm.accountNames();
    return [
      { name: 'first_name', label: 'First name', required: true, autocomplete: 'off' },
      { name: 'last_name', label: 'Last name', required: true, autocomplete: 'off' },
      { name: 'title', label: 'Title' },
      { name: 'account_id', label: 'Account', type: 'select', options: [{ value: '', label: '— None —' }, ...accounts.map((a) => ({ value: a.id, label: a.name }))] },
      { name: 'email', label: 'Email', type: 'email', autocomplete: 'off' },
      { name: 'phone_work', label: 'Work phone', type: 'tel', hint: PHONE_HINT },
      { name: 'phone_mobile', label: 'Mobile', type: 'tel' },
      { name: 'phone_home', label: 'Home phone', type: 'tel' },
      { name: 'phone_other', label: 'Other phone', type: 'tel' },
    ];
  },
  list: (deps, q, offset) => deps.crm.listContacts({ ...(q ? { q } : {}), offset, limit: 50 }),
  get: (deps, id) => deps.crm.getContact(id),
  create: (deps, input, owner) => deps.crm.createContactRecord(input as schemas.ContactInput, owner),
  update: (deps, id, patch) => deps.crm.updateContact(id, patch as schemas.ContactPatch),
  remove: (deps, id) => deps.crm.deleteContact(id),
  listColumns: ['Name', 'Account', 'Phone', 'Email'],
  listRow(c) {
    const rc = recordContext('contact', c);
    const primary = c.phones.find((p) => p.e164) ?? c.phones[0];
    return html`<td><a href="/contacts/${c.id}">${c.name}</a>${c.title ? html`<div class="muted small">${c.title}</div>` : ''}</td>
      <td>${c.account_id ? html`<a href="/accounts/${c.account_id}">${c.account_name}</a>` : html`<span class="muted">—</span>`}</td>
      <td>${primary ? phoneNumber(primary, rc) : html`<span class="muted">—</span>`}</td>
      <td>${emailAddress(c.email, rc)}</td>`;
  },
  async detail(ctx, c, deps) {
    const rc = recordContext('contact', c);
    const ref = { type: 'contact' as const, id: c.id };
    return html`<div class="record-layout">
      <section class="card" aria-labelledby="details-heading">
        <h2 id="details-heading">Details</h2>
        <dl class="details">
          <dt>Phone</dt><dd>${phoneList(c.phones, rc)}</dd>
          <dt>Email</dt><dd>${emailAddress(c.email, rc)}</dd>
          <dt>Account</dt><dd>${c.account_id ? html`<a href="/accounts/${c.account_id}">${c.account_name}</a>` : html`<span class="muted">None</span>`}</dd>
          <dt>Title</dt><dd>${c.title ?? html`<span class="muted">—</span>`}</dd>
          <dt>Last changed</dt><dd>${formatDateTime(c.updated_at, ctx.user.time_zone)}</dd>
        </dl>
      </section>
      ${await recordTimeline(ctx, deps, ref)}
    </div>`;
  },
  values: (c) => ({ ...c }),
};

const accountPages: RecordPages<Account> = {
  type: 'account',
  path: '/accounts',
  singular: 'Account',
  plural: 'Accounts',
  inputSchema: schemas.AccountInput,
  patchSchema: schemas.AccountPatch,
  async formFields() {
    return [
      { name: 'name', label: 'Name', required: true, autocomplete: 'organization' },
      { name: 'phone', label: 'Phone', type: 'tel', hint: PHONE_HINT },
      { name: 'website', label: 'Website' },
      { name: 'industry', label: 'Industry' },
      { name: 'city', label: 'City' },
      { name: 'country', label: 'Country' },
    ];
  },
  list: (deps, q, offset) => deps.crm.listAccounts({ ...(q ? { q } : {}), offset, limit: 50 }),
  get: (deps, id) => deps.crm.getAccount(id),
  create: (deps, input, owner) => deps.crm.createAccount(input as schemas.AccountInput, owner),
  update: (deps, id, patch) => deps.crm.updateAccount(id, patch as schemas.AccountPatch),
  remove: (deps, id) => deps.crm.deleteAccount(id),
  listColumns: ['Name', 'Industry', 'Phone', 'City', 'Contacts'],
  listRow(a) {
    const rc = recordContext('account', a);
    return html`<td><a href="/accounts/${a.id}">${a.name}</a></td><td>${a.industry ?? ''}</td>
      <td>${a.phones[0] ? phoneNumber(a.phones[0], rc, { label: false }) : html`<span class="muted">—</span>`}</td>
      <td>${[a.city, a.country].filter(Boolean).join(', ')}</td><td>${a.contact_count}</td>`;
  },
  async detail(ctx, a, deps) {
    const rc = recordContext('account', a);
    const ref = { type: 'account' as const, id: a.id };
    const contacts = await deps.crm.listContacts({ accountId: a.id, limit: 200 });
    return html`<div class="record-layout">
      <div>
        <section class="card" aria-labelledby="details-heading">
          <h2 id="details-heading">Details</h2>
          <dl class="details">
            <dt>Phone</dt><dd>${phoneList(a.phones, rc)}</dd>
            <dt>Website</dt><dd>${a.website ?? html`<span class="muted">—</span>`}</dd>
            <dt>Industry</dt><dd>${a.industry ?? html`<span class="muted">—</span>`}</dd>
            <dt>Location</dt><dd>${[a.city, a.country].filter(Boolean).join(', ') || html`<span class="muted">—</span>`}</dd>
          </dl>
        </section>
        <section class="card" aria-labelledby="contacts-heading">
          <h2 id="contacts-heading">Contacts (${contacts.data.length})</h2>
          ${contacts.data.length === 0
            ? html`<p class="muted">No contacts yet. <a href="/contacts/new?account_id=${a.id}">Add one</a></p>`
            : html`<ul class="related-list">${contacts.data.map((c) => {
                const crc = recordContext('contact', c);
                const primary = c.phones.find((p) => p.e164);
                return html`<li><a href="/contacts/${c.id}">${c.name}</a>${c.title ? html` <span class="muted">· ${c.title}</span>` : ''}
                  <div class="related-actions">${primary ? phoneNumber(primary, crc) : ''} ${c.email ? emailAddress(c.email, crc) : ''}</div></li>`;
              })}</ul>
              <p><a href="/contacts/new?account_id=${a.id}">Add contact</a></p>`}
        </section>
      </div>
      ${await recordTimeline(ctx, deps, ref, contacts.data)}
    </div>`;
  },
  values: (a) => ({ ...a }),
};

const LEAD_STATUS = [
  { value: 'new', label: 'New' },
  { value: 'working', label: 'Working' },
  { value: 'qualified', label: 'Qualified' },
  { value: 'unqualified', label: 'Unqualified' },
];

const leadPages: RecordPages<Lead> = {
  type: 'lead',
  path: '/leads',
  singular: 'Lead',
  plural: 'Leads',
  inputSchema: schemas.LeadInput,
  patchSchema: schemas.LeadPatch,
  async formFields() {
    return [
      { name: 'first_name', label: 'First name', required: true, autocomplete: 'off' },
      { name: 'last_name', label: 'Last name', required: true, autocomplete: 'off' },
      { name: 'company', label: 'Company' },
      { name: 'title', label: 'Title' },
      { name: 'status', label: 'Status', type: 'select', options: LEAD_STATUS },
      { name: 'email', label: 'Email', type: 'email', autocomplete: 'off' },
      { name: 'phone', label: 'Phone', type: 'tel', hint: PHONE_HINT },
      { name: 'mobile', label: 'Mobile', type: 'tel' },
    ];
  },
  list: (deps, q, offset) => deps.crm.listLeads({ ...(q ? { q } : {}), offset, limit: 50 }),
  get: (deps, id) => deps.crm.getLead(id),
  create: (deps, input, owner) => deps.crm.createLead(input as schemas.LeadInput, owner),
  update: (deps, id, patch) => deps.crm.updateLead(id, patch as schemas.LeadPatch),
  remove: (deps, id) => deps.crm.deleteLead(id),
  listColumns: ['Name', 'Company', 'Status', 'Phone', 'Email'],
  listRow(l) {
    const rc = recordContext('lead', l);
    const primary = l.phones.find((p) => p.e164) ?? l.phones[0];
    return html`<td><a href="/leads/${l.id}">${l.name}</a></td><td>${l.company ?? ''}</td>
      <td><span class="badge badge-${l.status}">${l.status}</span></td>
      <td>${primary ? phoneNumber(primary, rc) : html`<span class="muted">—</span>`}</td><td>${emailAddress(l.email, rc)}</td>`;
  },
  async detail(ctx, l, deps) {
    const rc = recordContext('lead', l);
    const ref = { type: 'lead' as const, id: l.id };
    return html`<div class="record-layout">
      <section class="card" aria-labelledby="details-heading">
        <h2 id="details-heading">Details</h2>
        <dl class="details">
          <dt>Phone</dt><dd>${phoneList(l.phones, rc)}</dd>
          <dt>Email</dt><dd>${emailAddress(l.email, rc)}</dd>
          <dt>Company</dt><dd>${l.company ?? html`<span class="muted">—</span>`}</dd>
          <dt>Title</dt><dd>${l.title ?? html`<span class="muted">—</span>`}</dd>
          <dt>Status</dt><dd><span class="badge badge-${l.status}">${l.status}</span></dd>
        </dl>
      </section>
      ${await recordTimeline(ctx, deps, ref)}
    </div>`;
  },
  values: (l) => ({ ...l }),
};

/** Form text → the API's input shape: blanks become null, numbers become numbers. */
function fromForm(body: unknown, fields: FieldSpec[], withVersion: boolean): Record<string, unknown> {
  const b = (body ?? {}) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const v = b[f.name];
    const text = typeof v === 'string' ? v : '';
    out[f.name] = f.required ? text : text.trim() === '' ? null : text;
  }
  if (withVersion) out.version = Number(b.version);
  return out;
}

function titleOf(spec: RecordPages<AnyRecord>, r: AnyRecord): string {
  return `${r.name} · ${spec.singular}`;
}

function registerRecordPages<R extends AnyRecord>(app: FastifyInstance, deps: WebDeps, spec: RecordPages<R>): void {
  const validateInput = formValidator(spec.inputSchema);
  const validatePatch = formValidator(spec.patchSchema);
  const base = spec.path;

  const renderForm = async (
    request: FastifyRequest,
    reply: FastifyReply,
    opts: { record?: R; values: Record<string, unknown>; error?: FieldError; status?: number; notice?: Html },
  ) => {
    const ctx = context(request);
    const fields = await spec.formFields(deps);
    const editing = opts.record;
    const title = editing ? `Edit ${editing.name}` : `New ${spec.singular.toLowerCase()}`;
    const action = editing ? `${base}/${editing.id}` : base;
    const body = html`<nav class="breadcrumbs" aria-label="Breadcrumb"><a href="${base}">${spec.plural}</a>${editing ? html` › <a href="${base}/${editing.id}">${editing.name}</a>` : ''}</nav>
      <h1>${title}</h1>
      ${opts.notice ?? ''}
      ${formErrorBanner(opts.error, fields.map((f) => f.name))}
      <form class="record-form card" method="post" action="${action}" novalidate>
        <input type="hidden" name="_csrf" value="${ctx.csrf}">
        ${editing ? html`<input type="hidden" name="version" value="${String(opts.values.version ?? editing.version)}">` : ''}
        <div class="form-grid">${fields.map((f) => field(f, opts.values, opts.error))}</div>
        <div class="form-actions"><button type="submit" class="primary">Save</button> <a href="${editing ? `${base}/${editing.id}` : base}">Cancel</a></div>
      </form>`;
    return reply.code(opts.status ?? 200).type('text/html; charset=utf-8').send(layout(ctx, title, body).value);
  };

  const loadRecord = async (id: string): Promise<R> => {
    if (!UUID.test(id)) throw new NotFoundError(spec.singular);
    return spec.get(deps, id);
  };

  app.get(base, { preValidation: requireUser }, async (request, reply) => {
    const query = request.query as Record<string, string | undefined>;
    const q = typeof query.q === 'string' ? query.q.slice(0, 200) : undefined;
    const offset = Math.min(Math.max(Number.parseInt(query.offset ?? '0', 10) || 0, 0), 1_000_000);
    const page = await spec.list(deps, q, offset);
    const ctx = context(request);
    const body = html`<div class="page-header"><h1>${spec.plural}</h1><a class="button primary" href="${base}/new">New ${spec.singular.toLowerCase()}</a></div>
      <form class="search-form" method="get" action="${base}" role="search">
        <label for="list-search">Find ${spec.plural.toLowerCase()}</label>
        <input id="list-search" type="search" name="q" value="${q ?? ''}" placeholder="Name, company, email or phone number">
        <button type="submit">Search</button>
        ${q ? html`<a href="${base}">Clear</a>` : ''}
      </form>
      ${page.data.length === 0
        ? html`<p class="empty">${q ? html`Nothing matches “${q}”.` : html`No ${spec.plural.toLowerCase()} yet.`}</p>`
        : html`<table class="records">
            <thead><tr>${spec.listColumns.map((c) => html`<th scope="col">${c}</th>`)}</tr></thead>
            <tbody>${page.data.map((r) => html`<tr>${spec.listRow(r)}</tr>`)}</tbody>
          </table>`}
      ${pagination(base, { q }, page.page)}`;
    return reply.type('text/html; charset=utf-8').send(layout(ctx, spec.plural, body).value);
  });

  app.get(`${base}/new`, { preValidation: requireUser }, async (request, reply) => {
    const query = request.query as Record<string, string | undefined>;
    const values: Record<string, unknown> = spec.type === 'lead' ? { status: 'new' } : {};
    if (query.account_id && UUID.test(query.account_id)) values.account_id = query.account_id;
    return renderForm(request, reply, { values });
  });

  app.post(base, { preValidation: requireUser }, async (request, reply) => {
    const fields = await spec.formFields(deps);
    const input = fromForm(request.body, fields, false);
    const checked = validateInput(input);
    if (!checked.ok) return renderForm(request, reply, { values: input, error: checked.error, status: 400 });
    try {
      const created = await spec.create(deps, checked.value, request.auth!.user.id);
      return reply.redirect(`${base}/${created.id}`, 303);
    } catch (err) {
      if (err instanceof AppError && err.field) return renderForm(request, reply, { values: input, error: { field: err.field, message: err.message }, status: err.status });
      throw err;
    }
  });

  app.get(`${base}/:id`, { preValidation: requireUser }, async (request, reply) => {
    const record = await loadRecord((request.params as { id: string }).id);
    const ctx = context(request);
    const subtitle = spec.type === 'contact' ? [(record as unknown as Contact).title, (record as unknown as Contact).account_name].filter(Boolean).join(' at ') : '';
    const body = html`<nav class="breadcrumbs" aria-label="Breadcrumb"><a href="${base}">${spec.plural}</a> › <span aria-current="page">${record.name}</span></nav>
      <div class="page-header">
        <div><p class="eyebrow">${spec.singular}</p><h1>${record.name}</h1>${subtitle ? html`<p class="subtitle">${subtitle}</p>` : ''}</div>
        <div class="header-actions">
          <a class="button" href="${base}/${record.id}/edit">Edit</a>
          <form method="post" action="${base}/${record.id}/delete" data-confirm="Delete ${record.name}? This cannot be undone.">
            <input type="hidden" name="_csrf" value="${ctx.csrf}">
            <button type="submit" class="danger">Delete</button>
          </form>
        </div>
      </div>
      ${await spec.detail(ctx, record, deps)}`;
    return reply.type('text/html; charset=utf-8').send(layout(ctx, titleOf(spec as unknown as RecordPages<AnyRecord>, record), body).value);
  });

  // The record's timeline alone (its Turbo Frame), for the page to reload it in place.
  app.get(`${base}/:id/timeline`, { preValidation: requireUser }, async (request, reply) => {
    const record = await loadRecord((request.params as { id: string }).id);
    const ref: RecordRef = { type: spec.type, id: record.id };
    const { activities, opts } = await timelineData(deps, ref);
    return reply.type('text/html; charset=utf-8').send(timelineFrame(context(request), ref, activities, opts).value);
  });

  app.get(`${base}/:id/edit`, { preValidation: requireUser }, async (request, reply) => {
    const record = await loadRecord((request.params as { id: string }).id);
    return renderForm(request, reply, { record, values: spec.values(record) });
  });

  app.post(`${base}/:id`, { preValidation: requireUser }, async (request, reply) => {
    const record = await loadRecord((request.params as { id: string }).id);
    const fields = await spec.formFields(deps);
    const patch = fromForm(request.body, fields, true);
    const checked = validatePatch(patch);
    if (!checked.ok) return renderForm(request, reply, { record, values: patch, error: checked.error, status: 400 });
    try {
      await spec.update(deps, record.id, checked.value);
      return reply.redirect(`${base}/${record.id}`, 303);
    } catch (err) {
      if (err instanceof AppError && err.status === 409) {
        // Keep what the user typed; the form now carries the current version, so saving again is a deliberate overwrite.
        const current = await spec.get(deps, record.id);
        return renderForm(request, reply, {
          record: current,
          values: { ...patch, version: current.version },
          status: 409,
          notice: html`<p class="banner banner-warn" role="alert">Someone else saved this ${spec.singular.toLowerCase()} while you were editing.
            Your changes are below and have not been saved. <a href="${base}/${record.id}" target="_blank">See the current version</a>, then Save again to keep yours.</p>`,
        });
      }
      if (err instanceof AppError && err.field) return renderForm(request, reply, { record, values: patch, error: { field: err.field, message: err.message }, status: err.status });
      throw err;
    }
  });

  app.post(`${base}/:id/delete`, { preValidation: requireUser }, async (request, reply) => {
    const record = await loadRecord((request.params as { id: string }).id);
    await assertMayDelete(deps.store, `${spec.type}s` as RecordTable, record.id, request.auth!.user);
    await spec.remove(deps, record.id);
    return reply.redirect(base, 303);
  });
}

export async function recordPages(app: FastifyInstance, deps: WebDeps): Promise<void> {
  registerRecordPages(app, deps, contactPages);
  registerRecordPages(app, deps, accountPages);
  registerRecordPages(app, deps, leadPages);

  const validateNote = formValidator(schemas.NoteInput);
  app.post('/notes', { preValidation: requireUser }, async (request, reply) => {
    const b = (request.body ?? {}) as Record<string, unknown>;
    const input = { record_type: b.record_type, record_id: b.record_id, subject: b.subject ?? '', body: typeof b.body === 'string' && b.body.trim() ? b.body : null };
    const checked = validateNote(input);
    if (!checked.ok) throw new AppError(400, 'validation_failed', checked.error.message, checked.error.field);
    await deps.crm.addNote(checked.value, request.auth!.user.id);
    return reply.redirect(`/${checked.value.record_type}s/${checked.value.record_id}#activity`, 303);
  });
}
