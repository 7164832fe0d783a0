/**
 * The CRM port: everything outside `crm/` talks to "the CRM" through this interface and never
 * learns whether the built-in CRM or Salesforce is behind it.
 */
import type { RecordRef } from './schemas.ts';

export type { RecordRef };

/** What a call card shows of a record. */
export interface CrmRecordSummary {
  ref: RecordRef;
  name: string;
  title: string | null;
  accountName: string | null;
  /** Link to the record in the CRM's own UI. */
  url: string;
}

export interface CrmMatch extends CrmRecordSummary {
  /** The phone field that matched and how. */
  field: string;
  match: 'exact' | 'suffix';
}

export interface NewContact {
  firstName: string;
  lastName: string;
  phone?: string | null;
  email?: string | null;
  accountId?: string | null;
  title?: string | null;
}

export type CallDisposition =
  | 'answered'
  | 'no-answer'
  | 'busy'
  | 'declined'
  | 'answered-elsewhere'
  | 'cancelled'
  | 'failed'
  | 'interrupted';

export interface CallQuality {
  jitterMs: number | null;
  lossPct: number | null;
  rttMs: number | null;
  /** Estimated MOS (1–4.5, E-model). */
  mos: number | null;
}

/** One user's call, as the CRM records it: no SIP in here. */
export interface CallLog {
  /** Idempotency key (call id + user): logging it twice records it once. */
  key: string;
  userId: string;
  direction: 'inbound' | 'outbound';
  /** The other party: E.164 (or extension) and how it was shown. */
  counterpart: { number: string | null; display: string | null };
  /** The record it belongs to; null when the number matched nothing. */
  record: RecordRef | null;
  startedAt: string;
  answeredAt: string | null;
  endedAt: string;
  durationS: number;
  disposition: CallDisposition;
  /** The device that answered (for this user), or who answered instead. */
  answeredDevice: string | null;
  answeredElsewhereBy: string | null;
  quality: CallQuality | null;
  notes: string | null;
  /** A video call (a guest from an invitation, or a browser that offered video). */
  video?: boolean;
}

/** A video-call invitation as the CRM records it: a meeting on the invited record's timeline. */
export interface InvitationLog {
  /** Idempotency key (`invitation:<id>`): every change of the invitation updates one activity. */
  key: string;
  userId: string;
  record: RecordRef | null;
  subject: string;
  startsAt: string;
  endsAt: string;
  /** The guest's join link. */
  link: string;
  guestEmail: string;
  message: string | null;
  status: 'scheduled' | 'cancelled';
  /** Grows with every change; an older version arriving late never overwrites a newer one. */
  sequence: number;
}

/** Add contact's outcome: the contact made, or the one that was there already. */
export interface AddContactResult {
  record: CrmRecordSummary;
  /** False when this key made its contact before, or the CRM's duplicate rule found one. */
  created: boolean;
  /** The CRM refused a duplicate and offered this existing record instead. */
  duplicate: boolean;
}

/** One item's outcome in a batch delivery: the others go on whatever happens to it. */
export type DeliveryResult =
  | { ok: true; ref: string }
  /**
   * Not taken: retried with the outbox's backoff, or after `retryAfterMs`. `deferred`: not even
   * tried (the CRM's API budget is low), so it is not counted as a failed attempt.
   */
  | { ok: false; error: string; retryAfterMs?: number; deferred?: boolean };

export interface CrmPort {
  /** `builtin` or `salesforce`, for logs and /readyz. */
  readonly kind: string;
  /** All records with this number in any of their phone fields, best first (screen pop). */
  findByPhone(number: string): Promise<CrmMatch[]>;
  /** Contacts and leads with this email address (invitations). */
  findByEmail(email: string): Promise<CrmRecordSummary[]>;
  getRecord(ref: RecordRef): Promise<CrmRecordSummary | null>;
  createContact(contact: NewContact): Promise<CrmRecordSummary>;
  /**
   * Add contact during a call: at most one contact per `key` (a repeated click, another device or
   * node gets the first one back), owned by the user; a CRM duplicate rule's hit is offered instead.
   */
  addContact(contact: NewContact, options: { key: string; userId: string | null }): Promise<AddContactResult>;
  recordUrl(ref: RecordRef): string;
  /** Records a call on the record's timeline (or unlinked); idempotent by `log.key`. Returns the CRM's id. */
  logCall(log: CallLog): Promise<{ ref: string }>;
  /**
   * Optional batch form of `logCall` (a CRM with per-request costs): one result per log, in order;
   * one bad item fails alone. Throws only when the whole batch failed (all are retried).
   */
  logCalls?(logs: CallLog[]): Promise<DeliveryResult[]>;
  /** With `logCalls`: most logs per batch, and how long the outbox may wait for a batch to fill. */
  readonly batching?: { maxItems: number; windowMs: number };
  /** Replaces the wrap-up notes of a call logged earlier. */
  updateCallNotes(key: string, notes: string | null): Promise<void>;
  /** Replaces the quality figures of a call logged earlier (the browser's last report can come after the log). */
  updateCallQuality(key: string, quality: CallQuality): Promise<void>;
  /** Creates or updates (by `log.key`, newer `sequence` wins) the meeting of an invitation. */
  logInvitation(log: InvitationLog): Promise<{ ref: string }>;
  /** The latest activity on a record, for the call card ("last spoke 3 days ago"). */
  lastActivity(ref: RecordRef): Promise<{ subject: string; at: string } | null>;
}
