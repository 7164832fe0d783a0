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

export interface CrmPort {
  /** `builtin` or `salesforce`, for logs and /readyz. */
  readonly kind: string;
  /** All records with this number in any of their phone fields, best first (screen pop). */
  findByPhone(number: string): Promise<CrmMatch[]>;
  /** Contacts and leads with this email address (invitations). */
  findByEmail(email: string): Promise<CrmRecordSummary[]>;
  getRecord(ref: RecordRef): Promise<CrmRecordSummary | null>;
  createContact(contact: NewContact): Promise<CrmRecordSummary>;
  recordUrl(ref: RecordRef): string;
  /** Records a call on the record's timeline (or unlinked); idempotent by `log.key`. Returns the CRM's id. */
  logCall(log: CallLog): Promise<{ ref: string }>;
  /** Replaces the wrap-up notes of a call logged earlier. */
  updateCallNotes(key: string, notes: string | null): Promise<void>;
  /** Creates or updates (by `log.key`, newer `sequence` wins) the meeting of an invitation. */
  logInvitation(log: InvitationLog): Promise<{ ref: string }>;
  /** The latest activity on a record, for the call card ("last spoke 3 days ago"). */
  lastActivity(ref: RecordRef): Promise<{ subject: string; at: string } | null>;
}
