/**
 * Video-call invitations: a salesperson invites a customer for a time window; the customer gets a
 * mail with a join link and an `.ics`; the invitation is a meeting on the contact's timeline. Every
 * change (create, change time, cancel, resend) is one transaction that updates the row and puts
 * what must go out — the mail, the CRM meeting — in the durable outbox, so nothing is lost to a
 * crash or an unreachable mail server, and the user sees whether the mail went out.
 */
import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { enqueue, type ActivityOutbox } from '../activity/index.ts';
import type { CrmPort, InvitationLog, RecordRef } from '../crm/index.ts';
import { AppError, NotFoundError, ValidationError } from '../shared/errors.ts';
import { newId, nowIso, type Invitation, type ServerSecret, type Store, type User } from '../store/index.ts';
import { JoinLinks } from './join-link.ts';
import { invitationMail, type InvitationMailKind } from './mail.ts';
import { isTimeZone, zonedLocalToUtc } from './time.ts';

export interface InvitationInput {
  email: string;
  guest_name?: string | null | undefined;
  subject?: string | null | undefined;
  message?: string | null | undefined;
  /** ISO 8601 with an offset, or a `datetime-local` value read in `time_zone`. */
  starts_at: string;
  ends_at: string;
  /** IANA zone the times are given and shown in; the user's own by default. */
  time_zone?: string | null | undefined;
  record?: RecordRef | null | undefined;
}

export interface RescheduleInput {
  starts_at: string;
  ends_at: string;
  time_zone?: string | null | undefined;
}

export type MailState = 'queued' | 'sent' | 'retrying';

export interface InvitationView {
  id: string;
  email: string;
  guest_name: string | null;
  subject: string;
  message: string | null;
  starts_at: string;
  ends_at: string;
  time_zone: string;
  /** When the link starts to work (start − the early-join margin). */
  opens_at: string;
  status: 'scheduled' | 'cancelled';
  /** What the guest's link does now. */
  state: 'upcoming' | 'open' | 'ended' | 'cancelled';
  sequence: number;
  record: { type: RecordRef['type']; id: string; name: string | null; url: string } | null;
  link: string | null;
  /** The latest mail to the guest: queued, sent, or failing (with the error) and retried. */
  mail: { state: MailState; attempts: number; last_error: string | null; sent_at: string | null } | null;
  created_at: string;
}

export type JoinState =
  | { state: 'not-found' }
  | { state: 'upcoming' | 'open'; invitation: Invitation; host: User; opensAt: number }
  | { state: 'ended'; invitation: Invitation; host: User };

/** Who a guest connection speaks for: a call to one user, within one window. */
export interface GuestPass {
  invitationId: string;
  hostUserId: string;
  hostSipUsername: string;
  name: string;
  email: string;
  record: RecordRef | null;
  /** Calls are refused after this instant (ms since epoch). */
  notAfter: number;
}

export interface InvitationLimits {
  /** How early before the start the link works. */
  earlyJoinMinutes: number;
  /** The longest window an invitation may have. */
  maxMinutes: number;
  /** How far ahead an invitation may start. */
  maxDaysAhead: number;
  /** Invitation mails (new, resent, moved) one user may send per hour; 0 = no limit. */
  maxMailsPerHour?: number;
}

export interface InvitationServiceOptions {
  store: Store;
  crm: CrmPort;
  outbox: Pick<ActivityOutbox, 'wake'>;
  secret: ServerSecret;
  /** The server's public base URL (links in mails); read at each use. */
  publicUrl: () => string;
  mailFrom: string;
  limits: InvitationLimits;
  clock?: () => number;
}

const MAX_EMAIL = 254;
const MAX_NAME = 100;
const MAX_SUBJECT = 150;
const MAX_MESSAGE = 2000;
const EMAIL = /^[^\s@<>()",;:\\[\]]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$/;
const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:\d{2})$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f\u2028\u2029]/;
// eslint-disable-next-line no-control-regex
const CONTROL_BUT_NEWLINES = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/**
 * Emits `'changed'` (invitation id) when an invitation is cancelled or moved: the gateway ends
 * the guest connections that the old pass let in.
 */
export class InvitationService extends EventEmitter<{ changed: [invitationId: string] }> {
  readonly links: JoinLinks;
  private readonly clock: () => number;

  constructor(private readonly options: InvitationServiceOptions) {
    super();
    this.links = new JoinLinks(options.secret, options.publicUrl);
    this.clock = options.clock ?? Date.now;
  }

  private get domain(): string {
    return new URL(this.options.publicUrl()).hostname;
  }

  /** The service's clock (pages count down with it). */
  now(): number {
    return this.clock();
  }

  get limits(): InvitationLimits {
    return this.options.limits;
  }

  // ------------------------------------------------------------------ the user's actions

  async create(user: User, input: InvitationInput): Promise<InvitationView> {
    const email = this.email(input.email);
    const guestName = this.line('guest_name', input.guest_name, MAX_NAME);
    const message = this.message(input.message);
    const timeZone = this.timeZone(input.time_zone, user);
    const { start, end } = this.window(input.starts_at, input.ends_at, timeZone);
    let record = input.record ?? null;
    let recordName: string | null = null;
    if (record) {
      const found = await this.options.crm.getRecord(record);
      if (!found) throw new ValidationError('record_id', `No ${record.type} with this id`);
      recordName = found.name;
    } else {
      // Invited from the dialog's address alone: the CRM's record with that address, if any.
      const found = (await this.options.crm.findByEmail(email))[0];
      if (found) {
        record = found.ref;
        recordName = found.name;
      }
    }
    const subject = this.line('subject', input.subject, MAX_SUBJECT) ?? `Video call with ${user.name}`;
    await this.checkMailRate(user, 'email');
    const now = nowIso(this.clock);
    const invitation: Invitation = {
      id: newId(),
      user_id: user.id,
      email,
      guest_name: guestName ?? recordName,
      record_type: record?.type ?? null,
      record_id: record?.id ?? null,
      subject,
      message,
      starts_at: new Date(start).toISOString(),
      ends_at: new Date(end).toISOString(),
      time_zone: timeZone,
      status: 'scheduled',
      sequence: 0,
      link_salt: randomBytes(16).toString('base64url'),
      created_at: now,
      updated_at: now,
    };
    await this.options.store.db.transaction().execute(async (trx) => {
      await trx.insertInto('invitations').values(invitation).execute();
      await enqueue(trx, this.outgoing(invitation, user, 'invite'), now);
    });
    this.options.outbox.wake();
    return this.view(invitation);
  }

  async list(userId: string, scope: 'upcoming' | 'past', limit = 50): Promise<InvitationView[]> {
    const now = nowIso(this.clock);
    let q = this.options.store.db.selectFrom('invitations').selectAll().where('user_id', '=', userId);
    q =
      scope === 'upcoming'
        ? q.where('ends_at', '>', now).where('status', '=', 'scheduled').orderBy('starts_at', 'asc')
        : q.where((eb) => eb.or([eb('ends_at', '<=', now), eb('status', '=', 'cancelled')])).orderBy('starts_at', 'desc');
    const rows = await q.limit(Math.min(Math.max(limit, 1), 200)).execute();
    return Promise.all(rows.map((r) => this.view(r)));
  }

  async get(userId: string, id: string): Promise<InvitationView> {
    return this.view(await this.own(userId, id));
  }

  /** Sends the current invitation again (the guest lost the mail). */
  async resend(user: User, id: string): Promise<InvitationView> {
    const invitation = await this.own(user.id, id);
    this.changeable(invitation);
    await this.checkMailRate(user, 'status');
    const now = nowIso(this.clock);
    await this.options.store.db.transaction().execute(async (trx) => {
      await enqueue(trx, this.outgoing(invitation, user, 'invite', { crm: false, resend: newId() }), now);
    });
    this.options.outbox.wake();
    return this.view(invitation);
  }

  /** A new window: the guest gets an updated `.ics` (SEQUENCE + 1), the CRM meeting moves. */
  async reschedule(user: User, id: string, input: RescheduleInput): Promise<InvitationView> {
    const current = await this.own(user.id, id);
    this.changeable(current);
    const timeZone = this.timeZone(input.time_zone ?? current.time_zone, user);
    const { start, end } = this.window(input.starts_at, input.ends_at, timeZone);
    await this.checkMailRate(user, 'starts_at');
    const now = nowIso(this.clock);
    const updated: Invitation = {
      ...current,
      starts_at: new Date(start).toISOString(),
      ends_at: new Date(end).toISOString(),
      time_zone: timeZone,
      sequence: Number(current.sequence) + 1,
      updated_at: now,
    };
    await this.options.store.db.transaction().execute(async (trx) => {
      const result = await trx
        .updateTable('invitations')
        .set({ starts_at: updated.starts_at, ends_at: updated.ends_at, time_zone: timeZone, sequence: updated.sequence, updated_at: now })
        .where('id', '=', id)
        .where('sequence', '=', current.sequence)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) throw new ValidationError('starts_at', 'The invitation changed meanwhile; reload and try again');
      await enqueue(trx, this.outgoing(updated, user, 'update'), now);
    });
    this.options.outbox.wake();
    this.emit('changed', id);
    return this.view(updated);
  }

  /** The link stops working at once; the guest gets a cancellation (METHOD:CANCEL). */
  async cancel(user: User, id: string): Promise<InvitationView> {
    const current = await this.own(user.id, id);
    if (current.status === 'cancelled') return this.view(current);
    const now = nowIso(this.clock);
    const updated: Invitation = { ...current, status: 'cancelled', sequence: Number(current.sequence) + 1, updated_at: now };
    await this.options.store.db.transaction().execute(async (trx) => {
      await trx.updateTable('invitations').set({ status: 'cancelled', sequence: updated.sequence, updated_at: now }).where('id', '=', id).execute();
      // Nobody needs a cancellation of a meeting that is over.
      const over = Date.parse(current.ends_at) <= this.clock();
      await enqueue(trx, this.outgoing(updated, user, 'cancel', { mail: !over }), now);
    });
    this.options.outbox.wake();
    this.emit('changed', id);
    return this.view(updated);
  }

  // ------------------------------------------------------------------ the guest's side

  /** What `/join/<token>` shows. Unknown, tampered and cancelled links are all just "not found". */
  async join(token: string): Promise<JoinState> {
    const id = this.links.idOf(token);
    if (!id) return { state: 'not-found' };
    const invitation = await this.options.store.db.selectFrom('invitations').selectAll().where('id', '=', id).executeTakeFirst();
    if (!invitation || !this.links.verify(token, invitation) || invitation.status === 'cancelled') return { state: 'not-found' };
    const host = await this.options.store.db.selectFrom('users').selectAll().where('id', '=', invitation.user_id).executeTakeFirst();
    if (!host || host.disabled) return { state: 'not-found' };
    const now = this.clock();
    const opensAt = Date.parse(invitation.starts_at) - this.options.limits.earlyJoinMinutes * 60_000;
    if (now >= Date.parse(invitation.ends_at)) return { state: 'ended', invitation, host };
    return { state: now < opensAt ? 'upcoming' : 'open', invitation, host, opensAt };
  }

  /** The guest identity a join token grants now, or undefined (outside the window, cancelled, bad). */
  async guestPass(token: string): Promise<GuestPass | undefined> {
    const found = await this.join(token);
    if (found.state !== 'open') return undefined;
    const inv = found.invitation;
    return {
      invitationId: inv.id,
      hostUserId: found.host.id,
      hostSipUsername: found.host.sip_username,
      name: inv.guest_name ?? inv.email,
      email: inv.email,
      record: inv.record_type && inv.record_id ? { type: inv.record_type, id: inv.record_id } : null,
      notAfter: Date.parse(inv.ends_at),
    };
  }

  /**
   * Whether a connected guest of this invitation may still call: not cancelled, and now within
   * its (possibly moved) window. Checked on every guest INVITE, so a pass taken at connection
   * time cannot outlive a cancellation made on any node.
   */
  async guestPassStillValid(invitationId: string): Promise<boolean> {
    const inv = await this.options.store.db.selectFrom('invitations').select(['status', 'starts_at', 'ends_at']).where('id', '=', invitationId).executeTakeFirst();
    if (!inv || inv.status === 'cancelled') return false;
    const now = this.clock();
    const opensAt = Date.parse(inv.starts_at) - this.options.limits.earlyJoinMinutes * 60_000;
    return now >= opensAt && now < Date.parse(inv.ends_at);
  }

  /** Whether an invitation is neither cancelled nor moved since a pass ending at `notAfter` was given. */
  async guestPassUnchanged(invitationId: string, notAfter: number): Promise<boolean> {
    const inv = await this.options.store.db.selectFrom('invitations').select(['status', 'ends_at']).where('id', '=', invitationId).executeTakeFirst();
    return inv !== undefined && inv.status !== 'cancelled' && Date.parse(inv.ends_at) === notAfter;
  }

  // ------------------------------------------------------------------ internals

  /**
   * Invitation mails come from the organisation's address: one user (or a stolen session) must
   * not turn it into a spam or phishing relay. Counts the mails this user queued in the last hour.
   */
  private async checkMailRate(user: User, field: string): Promise<void> {
    const max = this.options.limits.maxMailsPerHour ?? 0;
    if (max <= 0) return;
    const since = nowIso(() => this.clock() - 3_600_000);
    const row = await this.options.store.db
      .selectFrom('activity_outbox')
      .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.min('created_at').as('oldest')])
      .where('kind', '=', 'mail')
      .where('user_id', '=', user.id)
      .where('created_at', '>', since)
      .executeTakeFirst();
    if (Number(row?.n ?? 0) >= max) {
      const retryAfterS = Math.max(1, Math.ceil((Date.parse(String(row?.oldest)) + 3_600_000 - this.clock()) / 1000));
      const wait = retryAfterS <= 60 ? 'a minute' : `${Math.ceil(retryAfterS / 60)} minutes`;
      throw new AppError(429, 'too_many_invitations', `You have sent ${max} invitation mails in the last hour, the most allowed. Try again in ${wait}.`, field, { retry_after_s: retryAfterS });
    }
  }

  private async own(userId: string, id: string): Promise<Invitation> {
    const row = /^[0-9a-f-]{36}$/i.test(id)
      ? await this.options.store.db.selectFrom('invitations').selectAll().where('id', '=', id.toLowerCase()).where('user_id', '=', userId).executeTakeFirst()
      : undefined;
    if (!row) throw new NotFoundError('Invitation');
    return row;
  }

  private changeable(invitation: Invitation): void {
    if (invitation.status === 'cancelled') throw new ValidationError('status', 'This invitation is cancelled');
    if (Date.parse(invitation.ends_at) <= this.clock()) throw new ValidationError('ends_at', 'This invitation has ended');
  }

  /** The outbox items of one change: the guest's mail and the CRM meeting. */
  private outgoing(
    inv: Invitation,
    host: User,
    kind: InvitationMailKind,
    opts: { crm?: boolean; mail?: boolean; resend?: string } = {},
  ): Parameters<typeof enqueue>[1] {
    const items: Parameters<typeof enqueue>[1] = [];
    const link = this.links.url(inv);
    if (opts.crm !== false) {
      const log: InvitationLog = {
        key: `invitation:${inv.id}`,
        userId: host.id,
        record: inv.record_type && inv.record_id ? { type: inv.record_type, id: inv.record_id } : null,
        subject: inv.subject,
        startsAt: inv.starts_at,
        endsAt: inv.ends_at,
        link,
        guestEmail: inv.email,
        message: inv.message,
        status: inv.status,
        sequence: Number(inv.sequence),
      };
      items.push({ key: `invitation:${inv.id}:${inv.sequence}`, userId: host.id, item: { kind: 'invitation', log } });
    }
    if (opts.mail !== false) {
      const key = `mail:${inv.id}:${inv.sequence}:${opts.resend ?? kind}`;
      const mail = invitationMail({ kind, invitation: inv, host, link, from: this.options.mailFrom, earlyJoinMinutes: this.options.limits.earlyJoinMinutes, domain: this.domain });
      // One Message-ID per outbox item: a delivery retried after a lost reply is the same message.
      mail.messageId = `<${createHash('sha256').update(key).digest('hex').slice(0, 24)}@${this.domain}>`;
      items.push({ key, userId: host.id, item: { kind: 'mail', invitationId: inv.id, mail } });
    }
    return items;
  }

  private async view(inv: Invitation): Promise<InvitationView> {
    const now = this.clock();
    const opensAt = Date.parse(inv.starts_at) - this.options.limits.earlyJoinMinutes * 60_000;
    const state = inv.status === 'cancelled' ? 'cancelled' : now >= Date.parse(inv.ends_at) ? 'ended' : now >= opensAt ? 'open' : 'upcoming';
    let record: InvitationView['record'] = null;
    if (inv.record_type && inv.record_id) {
      const ref = { type: inv.record_type, id: inv.record_id };
      const found = await this.options.crm.getRecord(ref).catch(() => null);
      record = { ...ref, name: found?.name ?? null, url: this.options.crm.recordUrl(ref) };
    }
    const latest = await this.options.store.db
      .selectFrom('activity_outbox')
      .select(['attempts', 'last_error', 'delivered_at'])
      .where('kind', '=', 'mail')
      .where('idempotency_key', 'like', `mail:${inv.id}:%`)
      .orderBy('created_at', 'desc')
      .limit(1)
      .executeTakeFirst();
    return {
      id: inv.id,
      email: inv.email,
      guest_name: inv.guest_name,
      subject: inv.subject,
      message: inv.message,
      starts_at: inv.starts_at,
      ends_at: inv.ends_at,
      time_zone: inv.time_zone,
      opens_at: new Date(opensAt).toISOString(),
      status: inv.status,
      state,
      sequence: Number(inv.sequence),
      record,
      link: inv.status === 'cancelled' ? null : this.links.url(inv),
      mail: latest
        ? {
            state: latest.delivered_at ? 'sent' : Number(latest.attempts) > 0 ? 'retrying' : 'queued',
            attempts: Number(latest.attempts),
            last_error: latest.delivered_at ? null : latest.last_error,
            sent_at: latest.delivered_at,
          }
        : null,
      created_at: inv.created_at,
    };
  }

  private email(value: string): string {
    const email = (value ?? '').trim();
    if (!email) throw new ValidationError('email', 'Enter the guest’s email address');
    if (email.length > MAX_EMAIL || CONTROL.test(email) || !EMAIL.test(email)) throw new ValidationError('email', 'This is not a valid email address');
    return email;
  }

  /** A one-line field (it ends up in mail headers and calendar lines): no line breaks, bounded. */
  private line(field: string, value: string | null | undefined, max: number): string | null {
    const text = (value ?? '').trim();
    if (!text) return null;
    if (CONTROL.test(text)) throw new ValidationError(field, 'Must be a single line of text');
    if (text.length > max) throw new ValidationError(field, `At most ${max} characters`);
    return text;
  }

  private message(value: string | null | undefined): string | null {
    const text = (value ?? '').replace(/\r\n?/g, '\n').trim();
    if (!text) return null;
    if (CONTROL_BUT_NEWLINES.test(text)) throw new ValidationError('message', 'The message contains control characters');
    if (text.length > MAX_MESSAGE) throw new ValidationError('message', `The message is too long (at most ${MAX_MESSAGE} characters)`);
    return text;
  }

  private timeZone(value: string | null | undefined, user: User): string {
    const tz = (value ?? '').trim() || user.time_zone || 'UTC';
    if (!isTimeZone(tz)) throw new ValidationError('time_zone', 'Unknown time zone');
    return tz;
  }

  private instant(field: 'starts_at' | 'ends_at', value: string, tz: string): number {
    const text = (value ?? '').trim();
    const ms = ISO_WITH_OFFSET.test(text) ? Date.parse(text) : zonedLocalToUtc(text, tz);
    if (ms === undefined || Number.isNaN(ms)) throw new ValidationError(field, 'Not a valid date and time');
    const year = new Date(ms).getUTCFullYear();
    if (year < 2000 || year > 2200) throw new ValidationError(field, 'Not a plausible date');
    // Meetings are kept to the minute (calendars and the mail show no seconds).
    return Math.floor(ms / 60_000) * 60_000;
  }

  private window(startText: string, endText: string, tz: string): { start: number; end: number } {
    const start = this.instant('starts_at', startText, tz);
    const end = this.instant('ends_at', endText, tz);
    const { maxMinutes, maxDaysAhead } = this.options.limits;
    if (end <= start) throw new ValidationError('ends_at', 'The end must be after the start');
    if (end <= this.clock()) throw new ValidationError('ends_at', 'This time is in the past');
    if (end - start > maxMinutes * 60_000) throw new ValidationError('ends_at', `A call can last at most ${maxMinutes} minutes`);
    if (start - this.clock() > maxDaysAhead * 86_400_000) throw new ValidationError('starts_at', `Invitations can be at most ${maxDaysAhead} days ahead`);
    return { start, end };
  }
}
