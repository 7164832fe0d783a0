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
}
