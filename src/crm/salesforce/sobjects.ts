/**
 * The three objects the mirror keeps, the fields it reads, and how a Salesforce record (JSON, as
 * query, search and retrieve return it) becomes a mirror row. Anything malformed is skipped, not
 * trusted: a record without an 18- or 15-character Id or a name is not mirrored.
 */
import type { RecordType } from '../../store/index.ts';
import type { MirrorRecord } from './mirror.ts';

export interface MirroredObject {
  sobject: 'Account' | 'Contact' | 'Lead';
  type: RecordType;
  /** Fields read by sync, search and retrieve (always with Id and SystemModstamp). */
  fields: string[];
  phoneFields: string[];
  /** Records that belong in the mirror (SOQL condition). */
  live: string | null;
}

export const MIRRORED: MirroredObject[] = [
  { sobject: 'Account', type: 'account', fields: ['Id', 'Name', 'Phone', 'SystemModstamp'], phoneFields: ['Phone'], live: null },
  {
    sobject: 'Contact',
    type: 'contact',
    fields: ['Id', 'FirstName', 'LastName', 'Title', 'Email', 'AccountId', 'Phone', 'MobilePhone', 'HomePhone', 'OtherPhone', 'AssistantPhone', 'SystemModstamp'],
    phoneFields: ['Phone', 'MobilePhone', 'HomePhone', 'OtherPhone', 'AssistantPhone'],
    live: null,
  },
  {
    sobject: 'Lead',
    type: 'lead',
    fields: ['Id', 'FirstName', 'LastName', 'Title', 'Company', 'Email', 'Phone', 'MobilePhone', 'IsConverted', 'SystemModstamp'],
    phoneFields: ['Phone', 'MobilePhone'],
    live: 'IsConverted = false',
  },
];

export const SOBJECT_OF: Record<RecordType, MirroredObject> = {
  account: MIRRORED[0]!,
  contact: MIRRORED[1]!,
  lead: MIRRORED[2]!,
};

const ID = /^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$/;

/** The record type an Id belongs to, from its key prefix (contract: 001, 003, 00Q). */
export function typeOfId(id: string): RecordType | null {
  if (!ID.test(id)) return null;
  const prefix = id.slice(0, 3);
  return prefix === '001' ? 'account' : prefix === '003' ? 'contact' : prefix === '00Q' ? 'lead' : null;
}

export function isSalesforceId(id: string): boolean {
  return ID.test(id);
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v.trim() !== '' ? v : null;
}

/** `2026-11-25T14:03:00.000+0000` → `2026-11-25T14:03:00.000Z`; null when not a date-time. */
export function isoTime(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  const ms = Date.parse(v.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

/** A Salesforce record → mirror row; null when it is not one of ours or is malformed. */
export function toMirrorRecord(raw: unknown): MirrorRecord | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const r = raw as Record<string, unknown>;
  const id = str(r.Id);
  const declared = str((r.attributes as { type?: unknown } | undefined)?.type);
  const type = id ? typeOfId(id) : null;
  if (!id || !type || (declared && SOBJECT_OF[type].sobject !== declared)) return null;
  const object = SOBJECT_OF[type];
  const name = type === 'account' ? str(r.Name) : [str(r.FirstName), str(r.LastName)].filter(Boolean).join(' ') || str(r.Name);
  if (!name) return null;
  const phones: Record<string, string | null> = {};
  for (const f of object.phoneFields) phones[f] = str(r[f]);
  return {
    id,
    type,
    name,
    title: str(r.Title),
    email: str(r.Email),
    accountId: type === 'contact' ? str(r.AccountId) : null,
    company: type === 'lead' ? str(r.Company) : null,
    modstamp: isoTime(r.SystemModstamp),
    phones,
  };
}

/** Whether a record read by incremental sync should leave the mirror. */
export function isGone(raw: unknown): boolean {
  const r = raw as Record<string, unknown> | null;
  return r?.IsDeleted === true || r?.IsConverted === true;
}

/** A SOQL string literal (contract §3.3: escape `'` and `\`). */
export function soqlString(v: string): string {
  return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
