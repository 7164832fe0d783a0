/**
 * The **Invite to video call** dialog. The CRM pages' ✉ buttons ask for it with `ringside:invite`
 * on window (web/src/crm/actions.ts); it is a <dialog>, modal for the page but never for the phone
 * (showPageModal, web/src/page-modal.ts: a call that rings meanwhile can be answered): the
 * guest's address (editable, checked), start and end in the user's time zone (the next half
 * hour, for 30 minutes), an optional message, and **Send invitation** → `POST /api/v1/invitations`.
 * The API's field errors show next to their field; once sent, the dialog shows the join link
 * (without a mail server the mail is only saved as a file, so the user passes the link on) and the
 * invitation's own page.
 */
import { announceActivityChanged } from '../crm/activity-event.ts';
import { showPageModal } from '../page-modal.ts';
import { browserTimeZone, defaultWindow, isTimeZone } from './time.ts';

export interface InviteRecord {
  type: string;
  id: string;
  name: string;
}

export interface InviteRequest {
  email: string;
  record: InviteRecord | null;
  handled: boolean;
}

interface InvitationCreated {
  invitation: { id: string; link: string | null; email: string; guest_name: string | null };
  delivery: 'smtp' | 'file';
}

interface ApiError {
  error?: { code?: string; message?: string; field?: string };
}

type FieldName = 'email' | 'starts_at' | 'ends_at' | 'message';

const DIALOG_ID = 'invite-dialog';
const RECORD_TYPES = new Set(['contact', 'lead', 'account']);
const LOCAL_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/;

export function installInviteDialog(): void {
  window.addEventListener('ringside:invite', (event) => {
    const detail = (event as CustomEvent<InviteRequest>).detail;
    if (!detail || detail.handled) return;
    detail.handled = true;
    void openInviteDialog(detail.email ?? '', detail.record ?? null);
  });
}

/** A small element builder: attributes (false/undefined skip), then children. */
function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string | boolean | undefined> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    node.setAttribute(k, v === true ? '' : v);
  }
  node.append(...children);
  return node;
}

interface Field {
  wrap: HTMLDivElement;
  control: HTMLInputElement | HTMLTextAreaElement;
  error: HTMLElement;
  hintId: string | undefined;
}

function makeField(name: FieldName, label: string, control: HTMLInputElement | HTMLTextAreaElement, opts: { required?: boolean; hint?: string } = {}): Field {
  const id = `invite-${name}`;
  control.id = id;
  control.name = name;
  if (opts.required) control.required = true;
  const hintId = opts.hint ? `${id}-hint` : undefined;
  if (hintId) control.setAttribute('aria-describedby', hintId);
  const error = el('small', { id: `${id}-error`, class: 'error-text', hidden: true });
  const wrap = el(
    'div',
    { class: 'field' },
    el('label', { for: id }, label, ...(opts.required ? [el('span', { class: 'req', 'aria-hidden': 'true' }, ' *')] : [])),
    control,
    ...(opts.hint ? [el('small', { id: hintId, class: 'hint' }, opts.hint)] : []),
    error,
  );
  return { wrap, control, error, hintId };
}

function setFieldError(f: Field, message: string | null): void {
  f.wrap.classList.toggle('field-error', message !== null);
  f.error.textContent = message ?? '';
  f.error.hidden = message === null;
  if (message === null) {
    f.control.removeAttribute('aria-invalid');
    if (f.hintId) f.control.setAttribute('aria-describedby', f.hintId);
    else f.control.removeAttribute('aria-describedby');
  } else {
    f.control.setAttribute('aria-invalid', 'true');
    f.control.setAttribute('aria-describedby', [f.error.id, f.hintId].filter(Boolean).join(' '));
  }
}

function csrfFromPage(): string | null {
  return document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]')?.content || null;
}

/** The user's time zone and the CSRF token, from the session (the page's meta tag as fallback). */
async function sessionInfo(): Promise<{ timeZone: string; csrf: string | null }> {
  try {
    const res = await fetch('/api/v1/session', { credentials: 'same-origin', headers: { accept: 'application/json' } });
    if (res.ok) {
      const body = (await res.json()) as { user?: { time_zone?: string }; csrf_token?: string };
      const tz = body.user?.time_zone;
      return { timeZone: tz && isTimeZone(tz) ? tz : browserTimeZone(), csrf: body.csrf_token ?? csrfFromPage() };
    }
  } catch {
    // Offline: the send will say so.
  }
  return { timeZone: browserTimeZone(), csrf: csrfFromPage() };
}

export async function openInviteDialog(email: string, record: InviteRecord | null): Promise<HTMLDialogElement> {
  document.getElementById(DIALOG_ID)?.remove();
  const headingId = `${DIALOG_ID}-heading`;
  const dialog = el('dialog', { id: DIALOG_ID, class: 'invite-dialog', 'aria-labelledby': headingId });
  const heading = el('h2', { id: headingId }, 'Invite to video call');
  const about = record?.name ? el('p', { class: 'muted invite-for' }, `For ${record.name}`) : null;
  const banner = el('p', { class: 'banner banner-error', role: 'alert', hidden: true });

  const emailInput = el('input', { type: 'email', autocomplete: 'off', maxlength: '254', spellcheck: 'false' });
  emailInput.value = email;
  const startInput = el('input', { type: 'datetime-local', step: '60' });
  const endInput = el('input', { type: 'datetime-local', step: '60' });
  const messageInput = el('textarea', { rows: '3', maxlength: '5000' });
  const fields: Record<FieldName, Field> = {
    email: makeField('email', 'Email', emailInput, { required: true, hint: 'Check the address: the link goes to whoever reads this mailbox.' }),
    starts_at: makeField('starts_at', 'Start', startInput, { required: true }),
    ends_at: makeField('ends_at', 'End', endInput, { required: true }),
    message: makeField('message', 'Message (optional)', messageInput),
  };
  const zoneNote = el('p', { class: 'hint invite-zone' }, 'Times in your time zone');
  const send = el('button', { type: 'submit', class: 'primary' }, 'Send invitation');
  const cancel = el('button', { type: 'button' }, 'Cancel');
  const form = el(
    'form',
    { method: 'dialog', class: 'invite-form', novalidate: true },
    banner,
    fields.email.wrap,
    el('div', { class: 'invite-times' }, fields.starts_at.wrap, fields.ends_at.wrap),
    zoneNote,
    fields.message.wrap,
    el('div', { class: 'form-actions' }, send, cancel),
  );
  dialog.append(heading, ...(about ? [about] : []), form);
  document.body.append(dialog);

  let sent = false;
  cancel.addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => {
    dialog.remove();
    // The record's timeline now holds the meeting: the open page's timeline shows it by itself.
    if (sent && record) announceActivityChanged({ record: { type: record.type, id: record.id }, reason: 'invitation-sent' });
  });

  showPageModal(dialog);
  emailInput.focus();

  send.disabled = true;
  const session = await sessionInfo();
  const window_ = defaultWindow(Date.now(), session.timeZone);
  startInput.value = window_.start;
  endInput.value = window_.end;
  zoneNote.textContent = `Times in your time zone: ${session.timeZone.replace(/_/g, ' ')}`;
  send.disabled = false;

  // Moving the start keeps the length of the call.
  let lastStart = startInput.value;
  startInput.addEventListener('change', () => {
    const before = Date.parse(`${lastStart}:00Z`);
    const after = Date.parse(`${startInput.value}:00Z`);
    const end = Date.parse(`${endInput.value}:00Z`);
    if (!Number.isNaN(before) && !Number.isNaN(after) && !Number.isNaN(end) && end > before) {
      endInput.value = new Date(after + (end - before)).toISOString().slice(0, 16);
    }
    lastStart = startInput.value;
  });

  const showErrors = (errors: [FieldName, string][]) => {
    for (const [name, message] of errors) setFieldError(fields[name], message);
    fields[errors[0]![0]].control.focus();
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void submit();
  });

  async function submit(): Promise<void> {
    for (const f of Object.values(fields)) setFieldError(f, null);
    banner.hidden = true;
    const errors = check();
    if (errors.length > 0) return showErrors(errors);
    const body: Record<string, unknown> = {
      email: emailInput.value.trim(),
      starts_at: startInput.value,
      ends_at: endInput.value,
      time_zone: session.timeZone,
      message: messageInput.value.trim() || null,
    };
    if (record && RECORD_TYPES.has(record.type) && record.id) Object.assign(body, { record_type: record.type, record_id: record.id });
    send.disabled = true;
    send.textContent = 'Sending…';
    try {
      const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
      const csrf = csrfFromPage() ?? session.csrf;
      if (csrf) headers['x-csrf-token'] = csrf;
      const res = await fetch('/api/v1/invitations', { method: 'POST', credentials: 'same-origin', headers, body: JSON.stringify(body) });
      if (res.status === 201) {
        sent = true;
        return showSent((await res.json()) as InvitationCreated);
      }
      const err = ((await res.json().catch(() => ({}))) as ApiError).error;
      const field = err?.field === 'time_zone' ? 'starts_at' : err?.field;
      if (field && field in fields) return showErrors([[field as FieldName, err?.message ?? 'Check this field']]);
      banner.textContent =
        res.status === 401 ? 'You are signed out. Sign in again, then send the invitation.' : (err?.message ?? `The invitation could not be sent (HTTP ${res.status}).`);
      banner.hidden = false;
    } catch {
      banner.textContent = 'The server cannot be reached. Check your connection and try again.';
      banner.hidden = false;
    } finally {
      send.disabled = false;
      send.textContent = 'Send invitation';
    }
  }

  /** What can be said without asking the server; the server checks everything again. */
  function check(): [FieldName, string][] {
    const errors: [FieldName, string][] = [];
    const address = emailInput.value.trim();
    if (!address) errors.push(['email', 'Enter the guest’s email address']);
    else if (emailInput.validity.typeMismatch || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(address)) errors.push(['email', 'This is not a valid email address']);
    const start = startInput.value;
    const end = endInput.value;
    if (!LOCAL_DATE_TIME.test(start)) errors.push(['starts_at', 'Enter the date and time the call starts']);
    if (!LOCAL_DATE_TIME.test(end)) errors.push(['ends_at', 'Enter the date and time the call ends']);
    // Same zone, same format: the strings sort like the times they name.
    else if (LOCAL_DATE_TIME.test(start) && end <= start) errors.push(['ends_at', 'The end must be after the start']);
    return errors;
  }

  function showSent(created: InvitationCreated): void {
    const inv = created.invitation;
    const who = inv.guest_name ? `${inv.guest_name} (${inv.email})` : inv.email;
    const status = el(
      'p',
      { class: `banner ${created.delivery === 'file' ? 'banner-warn' : 'banner-info'}`, role: 'status' },
      created.delivery === 'file'
        ? `Invitation saved for ${who}. No mail server is configured, so the mail was only written to the data folder: send the guest this link yourself.`
        : `Invitation sent to ${who}.`,
    );
    const linkInput = el('input', { id: 'invite-link', readonly: true, class: 'copy-link' });
    linkInput.value = inv.link ?? '';
    const copy = el('button', { type: 'button' }, 'Copy link');
    copy.addEventListener('click', () => {
      linkInput.select();
      void navigator.clipboard
        ?.writeText(linkInput.value)
        .then(() => (copy.textContent = 'Copied'))
        .catch(() => (copy.textContent = 'Press Ctrl+C to copy'));
    });
    const close = el('button', { type: 'button', class: 'primary' }, 'Close');
    close.addEventListener('click', () => dialog.close());
    const done = el(
      'div',
      { class: 'invite-sent' },
      status,
      el('div', { class: 'field' }, el('label', { for: 'invite-link' }, 'Join link'), el('div', { class: 'invite-link-row' }, linkInput, copy)),
      el('p', {}, el('a', { href: `/invitations/${inv.id}` }, 'Open the invitation'), ' to resend it, change the time or cancel it.'),
      el('div', { class: 'form-actions' }, close),
    );
    form.replaceWith(done);
    close.focus();
  }

  return dialog;
}
