/**
 * The one `Database` interface that types every table (Kysely). Both engines store the same
 * shapes: ids are text (random UUIDs, safe to show and to merge across nodes), times are ISO-8601
 * UTC text (sortable, identical on SQLite and PostgreSQL), booleans are 0/1 integers.
 */
import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

export interface UsersTable {
  id: string;
  email: string;
  name: string;
  role: 'admin' | 'user';
  password_hash: string;
  extension: string | null;
  sip_username: string;
  /**
   * Digest secrets of the user's SIP devices (desk phone, softphone): HA1 = H(name:realm:password)
   * for the SIP username and for the extension (a phone may sign in with either), in MD5 and
   * SHA-256, and the realm (SIP_DOMAIN) they were made for. The password itself is generated,
   * shown once, and never stored. Null: no device password yet.
   */
  sip_realm: string | null;
  sip_ha1_md5: string | null;
  sip_ha1_sha256: string | null;
  sip_ext_ha1_md5: string | null;
  sip_ext_ha1_sha256: string | null;
  /** A plaintext device password from before migration 0009: hashed for SIP_DOMAIN and cleared at the next start. */
  legacy_sip_password: string | null;
  time_zone: string;
  /** Outbound dialling rule: comma-separated E.164 prefixes this user may call ("+1,+44"); null = the default. */
  allowed_prefixes: string | null;
  disabled: number;
  version: Generated<number>;
  created_at: string;
  updated_at: string;
}

/**
 * Every name SIP can reach a user by — SIP usernames and extensions alike — in one unique column,
 * so one user's SIP username can never be another user's extension.
 */
export interface SipIdentitiesTable {
  name: string;
  user_id: string;
}

export interface SessionsTable {
  /** SHA-256 of the cookie token: a stolen database does not yield live sessions. */
  id: string;
  user_id: string;
  csrf_token: string;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
  ip: string | null;
  user_agent: string | null;
  revoked_at: string | null;
}

/** An identity-provider account (issuer + subject) linked to a user: single sign-on. */
export interface UserIdentitiesTable {
  issuer: string;
  subject: string;
  user_id: string;
  provider_id: string;
  /** The email the provider gave at the last sign-in. */
  email: string;
  created_at: string;
  last_login_at: string;
}

/** A single sign-on in progress: what the provider's answer is checked against, used once. */
export interface OidcPendingTable {
  /** SHA-256 of the random value in the browser's `rs_oidc` cookie. */
  id: string;
  provider_id: string;
  state: string;
  nonce: string;
  code_verifier: string;
  /** Where to go after signing in (a path of ours). */
  next: string;
  /** 1 when the provider was asked to authenticate the user afresh (`prompt=login`, `max_age=0`). */
  reauth: Generated<number>;
  expires_at: string;
}

/** The provider a session was signed in with, and its ID token (the hint for RP-initiated logout). */
export interface SsoSessionsTable {
  session_id: string;
  provider_id: string;
  id_token: string;
  /** When the provider last checked who the user is (the ID token's `auth_time`); null when it did not say. */
  auth_time: string | null;
}

export interface SettingsTable {
  key: string;
  value: string;
}

export interface AccountsTable {
  id: string;
  name: string;
  website: string | null;
  industry: string | null;
  phone: string | null;
  city: string | null;
  country: string | null;
  owner_id: string | null;
  version: Generated<number>;
  created_at: string;
  updated_at: string;
}

export interface ContactsTable {
  id: string;
  account_id: string | null;
  first_name: string;
  last_name: string;
  title: string | null;
  email: string | null;
  phone_work: string | null;
  phone_mobile: string | null;
  phone_home: string | null;
  phone_other: string | null;
  owner_id: string | null;
  version: Generated<number>;
  created_at: string;
  updated_at: string;
}

export interface LeadsTable {
  id: string;
  first_name: string;
  last_name: string;
  company: string | null;
  title: string | null;
  email: string | null;
  phone: string | null;
  mobile: string | null;
  status: 'new' | 'working' | 'qualified' | 'unqualified';
  owner_id: string | null;
  version: Generated<number>;
  created_at: string;
  updated_at: string;
}

export type RecordType = 'contact' | 'lead' | 'account';

export interface ActivitiesTable {
  id: string;
  kind: 'call' | 'meeting' | 'note';
  record_type: RecordType | null;
  record_id: string | null;
  user_id: string | null;
  subject: string;
  body: string | null;
  occurred_at: string;
  ends_at: string | null;
  duration_s: number | null;
  direction: 'inbound' | 'outbound' | null;
  disposition: string | null;
  /** Set by producers that may deliver twice (the call pipeline): a second insert with the same key is a no-op. */
  idempotency_key: string | null;
  /** Extra fields as JSON text (numbers as shown, device, quality ...). */
  details: string | null;
  created_at: string;
}

/**
 * Phone index: one row per phone field of a CRM record, written in the same transaction as the
 * record. `e164` is null when the raw text is not a valid number; `tail` (the last N digits) is the
 * fallback key for numbers written without their country code.
 */
export interface PhoneIndexTable {
  record_type: RecordType;
  record_id: string;
  field: string;
  raw: string;
  e164: string | null;
  tail: string | null;
}

/** Salesforce mirror: one row per Contact, Lead or Account of the org (ids are Salesforce's). */
export interface SfRecordsTable {
  id: string;
  record_type: RecordType;
  name: string;
  title: string | null;
  email: string | null;
  /** A contact's account. */
  account_id: string | null;
  /** A lead's company. */
  company: string | null;
  /** Salesforce's SystemModstamp of the version mirrored. */
  modstamp: string | null;
  synced_at: string;
}

/** Salesforce mirror of the phone index: the same keys as `phone_index`, for the org's records. */
export interface SfPhonesTable {
  record_id: string;
  record_type: RecordType;
  field: string;
  raw: string;
  e164: string | null;
  tail: string | null;
}

/** Progress of the mirror's sync per sObject: resumable initial sync, then SystemModstamp polling. */
export interface SfSyncStateTable {
  sobject: string;
  phase: 'initial' | 'incremental';
  total: number;
  synced: number;
  /** Initial sync: the last Id written (the next page starts after it). */
  cursor_id: string | null;
  /** Highest SystemModstamp known to be mirrored: incremental sync asks for what changed since. */
  high_water: string | null;
  started_at: string;
  completed_at: string | null;
  polled_at: string | null;
  /** The org (instance URL) this state belongs to. */
  instance: string | null;
}

/** Contacts Add contact created in Salesforce, by key (one per call and number). */
export interface SfCreatedContactsTable {
  key: string;
  sf_id: string;
  created_at: string;
}

/** Tasks and Events delivered to Salesforce, by idempotency key. */
export interface SfActivitiesTable {
  key: string;
  sobject: 'Task' | 'Event';
  sf_id: string;
  record_id: string | null;
  subject: string;
  occurred_at: string;
  /** Invitations: the sequence delivered (an older one arriving late is ignored). */
  sequence: number | null;
  /** What was sent, as JSON (notes are updated from it). */
  payload: string;
  delivered_at: string;
}

export interface RegistrationsTable {
  id: string;
  user_id: string;
  /** The Contact URI as registered (with its parameters). */
  contact: string;
  /** RFC 5626 `+sip.instance` and `reg-id`: a device re-registering replaces its own binding. */
  instance_id: string | null;
  reg_id: number | null;
  call_id: string;
  cseq: number;
  q: string | null;
  expires_at: string;
  transport: string;
  source_address: string;
  source_port: number;
  /** The connection (TCP/TLS/WebSocket) requests to this device must use; null for UDP. */
  flow_id: string | null;
  /** The node that holds that connection. */
  node_id: string;
  user_agent: string | null;
  /** How the device is named to people ("baresip desk phone", "Browser"). */
  device: string;
  created_at: string;
  updated_at: string;
}

export type CallDirection = 'inbound' | 'outbound' | 'internal';
export type CallState = 'ringing' | 'answered' | 'ended';

export interface CallsTable {
  id: string;
  direction: CallDirection;
  from_uri: string;
  /** Caller's number in E.164 when it has one, else their extension or username. */
  from_number: string | null;
  from_display: string | null;
  to_uri: string;
  to_number: string | null;
  caller_user_id: string | null;
  callee_user_id: string | null;
  trunk: string | null;
  state: CallState;
  started_at: string;
  answered_at: string | null;
  ended_at: string | null;
  answered_device: string | null;
  answered_registration_id: string | null;
  answered_user_id: string | null;
  updated_at: string | null;
  /** completed, no-answer, busy, declined, cancelled, unavailable, failed, not-found, forbidden, interrupted */
  cause: string | null;
  sip_status: number | null;
  hangup_by: 'caller' | 'callee' | 'system' | null;
  duration_s: number | null;
  node_id: string;
  sip_call_id: string;
  /** 1 when the caller offered video. */
  video: Generated<number>;
  /** A guest's call: the invitation it came from. */
  invitation_id: string | null;
}

export interface CallEventsTable {
  id: string;
  call_id: string;
  type: string;
  at: string;
  data: string | null;
}

/** One user's part in a call: what their activity links to and carries. */
export interface CallPartiesTable {
  call_id: string;
  user_id: string;
  role: 'caller' | 'callee';
  /** The CRM record this user's activity attaches to (click-to-dial context, picker, Add contact, single match). */
  record_type: RecordType | null;
  record_id: string | null;
  record_source: 'click-to-dial' | 'match' | 'picker' | 'add-contact' | 'invitation' | null;
  /** The screen pop's matches, as JSON. */
  matches: string | null;
  notes: string | null;
  /** Call quality as JSON: jitter, loss, RTT, MOS. */
  quality: string | null;
  /** Contact made with Add contact during this call (so a second click makes none). */
  created_contact_id: string | null;
  updated_at: string;
}

/** The durable outbox: what must reach the CRM, delivered by a worker with retries. */
export interface ActivityOutboxTable {
  id: string;
  /** Call id + user: a retry never duplicates. */
  idempotency_key: string;
  kind: 'call' | 'call-notes' | 'call-quality' | 'invitation' | 'mail';
  user_id: string | null;
  payload: string;
  attempts: Generated<number>;
  next_attempt_at: string;
  /** A worker holds the row until then (several nodes share the outbox). */
  locked_until: string | null;
  last_error: string | null;
  delivered_at: string | null;
  /** The CRM's id of what was created. */
  crm_ref: string | null;
  created_at: string;
}

export interface InvitationsTable {
  id: string;
  /** The user who invites (and whose devices the guest's call rings). */
  user_id: string;
  email: string;
  guest_name: string | null;
  /** The CRM record invited (contact or lead), if any. */
  record_type: RecordType | null;
  record_id: string | null;
  subject: string;
  message: string | null;
  starts_at: string;
  ends_at: string;
  /** The IANA time zone the times were chosen in and are shown in to the guest. */
  time_zone: string;
  status: 'scheduled' | 'cancelled';
  /** iCalendar SEQUENCE: grows with every change sent to the guest. */
  sequence: Generated<number>;
  link_salt: string;
  created_at: string;
  updated_at: string;
}

export interface NodesTable {
  node_id: string;
  /** Written every few seconds: after a crash, the best-known time the node was alive. */
  heartbeat_at: string;
  started_at: string;
}

/** A guest's call in progress holds its invitation (one call per invitation, on any node). */
export interface GuestCallClaimsTable {
  invitation_id: string;
  call_id: string;
  node_id: string;
  claimed_at: string;
}

export interface Database {
  users: UsersTable;
  sip_identities: SipIdentitiesTable;
  sessions: SessionsTable;
  user_identities: UserIdentitiesTable;
  oidc_pending: OidcPendingTable;
  sso_sessions: SsoSessionsTable;
  settings: SettingsTable;
  accounts: AccountsTable;
  contacts: ContactsTable;
  leads: LeadsTable;
  activities: ActivitiesTable;
  phone_index: PhoneIndexTable;
  sf_records: SfRecordsTable;
  sf_phones: SfPhonesTable;
  sf_sync_state: SfSyncStateTable;
  sf_created_contacts: SfCreatedContactsTable;
  sf_activities: SfActivitiesTable;
  registrations: RegistrationsTable;
  calls: CallsTable;
  call_events: CallEventsTable;
  call_parties: CallPartiesTable;
  activity_outbox: ActivityOutboxTable;
  nodes: NodesTable;
  invitations: InvitationsTable;
  guest_call_claims: GuestCallClaimsTable;
}

export type User = Selectable<UsersTable>;
export type NewUser = Insertable<UsersTable>;
export type Session = Selectable<SessionsTable>;
export type Account = Selectable<AccountsTable>;
export type Contact = Selectable<ContactsTable>;
export type Lead = Selectable<LeadsTable>;
export type Activity = Selectable<ActivitiesTable>;
export type PhoneIndexRow = Selectable<PhoneIndexTable>;
export type ContactUpdate = Updateable<ContactsTable>;
export type Registration = Selectable<RegistrationsTable>;
export type CallRecord = Selectable<CallsTable>;
export type CallEventRecord = Selectable<CallEventsTable>;
export type CallParty = Selectable<CallPartiesTable>;
export type OutboxRow = Selectable<ActivityOutboxTable>;
export type Invitation = Selectable<InvitationsTable>;
