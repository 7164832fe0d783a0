/**
 * The page frame and the small components every CRM page shares: phone numbers with their call
 * button, emails with their invite button, form fields with their error, pagination.
 */
import type { PageInfo, PhoneField } from '../../crm/schemas.ts';
import type { User } from '../../store/index.ts';
import { html, type Html } from '../html.ts';
import type { FieldError } from '../validation.ts';

export interface PageContext {
  user: User;
  csrf: string;
  /** Current path, for the active navigation link. */
  path: string;
  /** Administration pages this server has beyond Users (e.g. Salesforce, with CRM=salesforce). */
  adminPages?: readonly NavLink[];
}

export interface NavLink {
  href: string;
  label: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Extra administration pages for the navigation (set once by the web server). */
    adminPages: readonly NavLink[];
  }
}

const NAV = [
  { href: '/contacts', label: 'Contacts' },
  { href: '/accounts', label: 'Accounts' },
  { href: '/leads', label: 'Leads' },
];

/** Where the built widget and styles are served (see `vite.config.ts`, served by `src/web/index.ts`). */
export const ASSETS = { script: '/assets/ringside.js', style: '/assets/ringside.css' };

export interface DocumentOptions {
  bodyClass?: string;
  /**
   * The signed-in page's context: the page then loads the widget (softphone, Turbo navigation)
   * and tells it who is signed in. Pages without one (sign-in, error pages) stay plain HTML, so
   * a form there does a real navigation and a new session starts with a fresh script.
   */
  app?: { user: User; csrf: string };
}

export function document(title: string, body: Html, opts: DocumentOptions = {}): Html {
  // Turbo reads the CSRF token from a meta tag for its fetches; the widget learns the user from
  // `ringside-user` so that a sign-out, or another user signing in, restarts it. Both sit in the
  // head: Turbo replaces head metas on every visit, so they always describe the current page.
  // No cached previews: a record page shown from Turbo's cache takes what the user types into its
  // forms (a note, an edit) and the fresh page then replaces it, typing and all.
  const app = opts.app
    ? html`<meta name="csrf-token" content="${opts.app.csrf}">
<meta name="ringside-user" content="${opts.app.user.id}">
<meta name="turbo-cache-control" content="no-preview">
<script type="module" src="${ASSETS.script}"></script>`
    : '';
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Ringside</title>
<link rel="icon" href="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 100 100'%3E%3Ctext y='.9em' font-size='90'%3E%F0%9F%93%9E%3C/text%3E%3C/svg%3E">
<link rel="stylesheet" href="${ASSETS.style}">
${app}
</head>
<body class="${opts.bodyClass ?? ''}">
${body}
</body>
</html>`;
}

/**
 * The softphone's place in the page. The same id and `data-turbo-permanent` on every page that
 * has one: Turbo then carries the live element (and the call in it) from page to page.
 */
export function softphonePanel(): Html {
  return html`<aside id="ringside-softphone" class="softphone" data-turbo-permanent aria-label="Phone">
  <p class="softphone-loading muted">Starting the phone…</p>
</aside>`;
}

export function layout(ctx: PageContext, title: string, main: Html): Html {
  const nav = [...NAV, ...(ctx.user.role === 'admin' ? [{ href: '/admin/users', label: 'Users' }, ...(ctx.adminPages ?? [])] : [])];
  return document(
    title,
    html`<a class="skip-link" href="#main">Skip to content</a>
<header class="topbar">
  <a class="brand" href="/" aria-label="Ringside home"><span aria-hidden="true">📞</span> Ringside</a>
  <nav aria-label="Main">
    ${nav.map((n) => html`<a href="${n.href}" ${ctx.path.startsWith(n.href) ? html`aria-current="page"` : ''}>${n.label}</a>`)}
  </nav>
  <form class="global-search" action="/contacts" method="get" role="search">
    <label class="visually-hidden" for="global-search">Search contacts</label>
    <input id="global-search" name="q" type="search" placeholder="Search name, company, email or number" autocomplete="off">
  </form>
  <div class="user-menu">
    <a href="/phone" title="The phone on a page of its own">Phone</a>
    <a href="/settings" title="Your settings">${ctx.user.name}</a>
    <form method="post" action="/logout">
      <input type="hidden" name="_csrf" value="${ctx.csrf}">
      <button type="submit" class="link-button">Log out</button>
    </form>
  </div>
</header>
<div class="shell">
  <main id="main" tabindex="-1">${main}</main>
  ${softphonePanel()}
</div>
<div id="toast" role="status" aria-live="polite" class="toast" hidden></div>`,
    { app: { user: ctx.user, csrf: ctx.csrf } },
  );
}

const PHONE_LABELS: Record<string, string> = { work: 'Work', mobile: 'Mobile', home: 'Home', other: 'Other', phone: 'Phone' };

export interface RecordContext {
  type: 'contact' | 'lead' | 'account';
  id: string;
  name: string;
}

/** A number as people read it, and its 📞 button (named `Call +1 415 555 0134`) carrying the record's context. */
export function phoneNumber(p: PhoneField, record: RecordContext, opts: { label?: boolean } = {}): Html {
  const label = opts.label === false ? '' : html`<span class="phone-label">${PHONE_LABELS[p.field] ?? p.field}</span> `;
  if (!p.e164) {
    return html`<span class="phone phone-invalid">${label}<span class="phone-number">${p.raw}</span>
      <span class="badge badge-warn" title="Not a valid phone number: it cannot be dialled or matched">not a valid number</span></span>`;
  }
  const shown = p.display.replace(/ ext\. \d+$/, '');
  return html`<span class="phone">${label}<a class="phone-number" href="tel:${p.e164}">${p.display}</a>
    <button type="button" class="icon-button call-button" aria-label="Call ${shown}" title="Call ${shown}"
      data-dial="${p.e164}" data-ext="${p.ext ?? ''}" data-record-type="${record.type}" data-record-id="${record.id}"
      data-record-name="${record.name}"><span aria-hidden="true">📞</span></button></span>`;
}

export function phoneList(phones: PhoneField[], record: RecordContext): Html {
  if (phones.length === 0) return html`<span class="muted">No phone number</span>`;
  return html`<ul class="phone-list">${phones.map((p) => html`<li>${phoneNumber(p, record)}</li>`)}</ul>`;
}

/** An email address and its ✉ button (named `Invite jane@acme.com to video call`). */
export function emailAddress(email: string | null, record: RecordContext): Html {
  if (!email) return html`<span class="muted">No email</span>`;
  return html`<span class="email"><a href="mailto:${email}">${email}</a>
    <button type="button" class="icon-button invite-button" aria-label="Invite ${email} to video call" title="Invite ${email} to video call"
      data-invite="${email}" data-record-type="${record.type}" data-record-id="${record.id}" data-record-name="${record.name}"><span aria-hidden="true">✉</span></button></span>`;
}

export function pagination(basePath: string, params: Record<string, string | undefined>, page: PageInfo): Html {
  const link = (offset: number) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
    if (offset > 0) q.set('offset', String(offset));
    const s = q.toString();
    return `${basePath}${s ? `?${s}` : ''}`;
  };
  const prev = page.offset > 0 ? Math.max(0, page.offset - page.limit) : null;
  if (prev === null && page.next_offset === null) return html``;
  return html`<nav class="pagination" aria-label="Pages">
    ${prev !== null ? html`<a href="${link(prev)}" rel="prev">← Previous</a>` : html`<span></span>`}
    <span class="muted">${page.offset + 1}–${page.offset + page.limit}</span>
    ${page.next_offset !== null ? html`<a href="${link(page.next_offset)}" rel="next">Next →</a>` : html`<span></span>`}
  </nav>`;
}

export interface FieldSpec {
  name: string;
  label: string;
  type?: 'text' | 'email' | 'tel' | 'url' | 'password' | 'textarea' | 'select' | 'datetime-local';
  required?: boolean;
  options?: { value: string; label: string }[];
  hint?: string;
  autocomplete?: string;
}

/** A labelled form field, showing its error (if it is the one in error) in an accessible way. */
export function field(spec: FieldSpec, values: Record<string, unknown>, error?: FieldError): Html {
  const id = `f-${spec.name}`;
  const value = values[spec.name] === null || values[spec.name] === undefined ? '' : String(values[spec.name]);
  const invalid = error?.field === spec.name;
  const describedBy = [invalid ? `${id}-error` : '', spec.hint ? `${id}-hint` : ''].filter(Boolean).join(' ');
  const common = html`id="${id}" name="${spec.name}" ${spec.required ? html`required` : ''} ${invalid ? html`aria-invalid="true"` : ''} ${describedBy ? html`aria-describedby="${describedBy}"` : ''} ${spec.autocomplete ? html`autocomplete="${spec.autocomplete}"` : ''}`;
  let control: Html;
  if (spec.type === 'textarea') control = html`<textarea ${common} rows="4">${value}</textarea>`;
  else if (spec.type === 'select') {
    control = html`<select ${common}>${(spec.options ?? []).map((o) => html`<option value="${o.value}" ${o.value === value ? html`selected` : ''}>${o.label}</option>`)}</select>`;
  } else control = html`<input ${common} type="${spec.type ?? 'text'}" value="${value}">`;
  return html`<div class="field ${invalid ? 'field-error' : ''}">
    <label for="${id}">${spec.label}${spec.required ? html`<span aria-hidden="true" class="req"> *</span>` : ''}</label>
    ${control}
    ${spec.hint ? html`<small id="${id}-hint" class="hint">${spec.hint}</small>` : ''}
    ${invalid ? html`<small id="${id}-error" class="error-text" role="alert">${error.message}</small>` : ''}
  </div>`;
}

export function formErrorBanner(error: FieldError | undefined, fields: string[]): Html {
  if (!error) return html``;
  // An error on a field the form does not show (say, an unknown account) still needs saying.
  if (fields.includes(error.field)) return html`<p class="banner banner-error" role="alert">Please correct the field marked below.</p>`;
  return html`<p class="banner banner-error" role="alert">${error.message}</p>`;
}

export function formatDateTime(iso: string, timeZone: string): string {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone, dateStyle: 'medium', timeStyle: 'short' }).format(new Date(iso));
  } catch {
    return new Date(iso).toISOString();
  }
}

export function formatDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}` : `${m}:${String(s).padStart(2, '0')}`;
}
