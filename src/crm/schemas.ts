/**
 * The built-in CRM's resources, defined once (TypeBox): the same definitions validate API bodies
 * (fastify/ajv), HTML form posts (TypeBox's compiler), type the code, and make the OpenAPI document.
 */
import { Type, type Static, type TSchema } from 'typebox';

/** One line of text: no control characters (no CR/LF to smuggle into mail headers or logs). */
export function line(maxLength: number, minLength = 0) {
  return Type.String({ minLength, maxLength, pattern: '^[^\\u0000-\\u001f\\u007f]*$' });
}

export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const Id = Type.String({ format: 'uuid', description: 'Record id (UUID)' });
export const Email = Type.String({ format: 'email', maxLength: 254 });
/** A phone number as typed, in any format; normalised to E.164 for matching. */
export const PhoneText = line(64);
export const Timestamp = Type.String({ format: 'date-time' });
export const Version = Type.Integer({ minimum: 1, description: 'The version you edited; a stale one gets 409.' });

export const PhoneField = Type.Object({
  field: Type.String({ description: 'Which field holds it: work, mobile, home, other, phone' }),
  raw: Type.String({ description: 'As typed' }),
  e164: Nullable(Type.String({ description: 'E.164, null when not a valid number' })),
  display: Type.String({ description: 'Formatted for people' }),
  ext: Nullable(Type.String()),
});
export type PhoneField = Static<typeof PhoneField>;

const contactFields = {
  first_name: line(100, 1),
  last_name: line(100, 1),
  title: Type.Optional(Nullable(line(128))),
  email: Type.Optional(Nullable(Email)),
  account_id: Type.Optional(Nullable(Id)),
  phone_work: Type.Optional(Nullable(PhoneText)),
  phone_mobile: Type.Optional(Nullable(PhoneText)),
  phone_home: Type.Optional(Nullable(PhoneText)),
  phone_other: Type.Optional(Nullable(PhoneText)),
};

export const ContactInput = Type.Object(contactFields, { additionalProperties: false });
export type ContactInput = Static<typeof ContactInput>;

export const ContactPatch = Type.Object(
  {
    first_name: Type.Optional(contactFields.first_name),
    last_name: Type.Optional(contactFields.last_name),
    title: contactFields.title,
    email: contactFields.email,
    account_id: contactFields.account_id,
    phone_work: contactFields.phone_work,
    phone_mobile: contactFields.phone_mobile,
    phone_home: contactFields.phone_home,
    phone_other: contactFields.phone_other,
    version: Version,
  },
  { additionalProperties: false },
);
export type ContactPatch = Static<typeof ContactPatch>;

const recordMeta = {
  id: Id,
  version: Type.Integer(),
  created_at: Timestamp,
  updated_at: Timestamp,
};

export const Contact = Type.Object({
  ...recordMeta,
  first_name: Type.String(),
  last_name: Type.String(),
  name: Type.String(),
  title: Nullable(Type.String()),
  email: Nullable(Type.String()),
  account_id: Nullable(Type.String()),
  account_name: Nullable(Type.String()),
  phone_work: Nullable(Type.String()),
  phone_mobile: Nullable(Type.String()),
  phone_home: Nullable(Type.String()),
  phone_other: Nullable(Type.String()),
  phones: Type.Array(PhoneField),
});
export type Contact = Static<typeof Contact>;

const accountFields = {
  name: line(200, 1),
  website: Type.Optional(Nullable(line(255))),
  industry: Type.Optional(Nullable(line(100))),
  phone: Type.Optional(Nullable(PhoneText)),
  city: Type.Optional(Nullable(line(100))),
  country: Type.Optional(Nullable(line(100))),
};
export const AccountInput = Type.Object(accountFields, { additionalProperties: false });
export type AccountInput = Static<typeof AccountInput>;
export const AccountPatch = Type.Object(
  { ...accountFields, name: Type.Optional(accountFields.name), version: Version },
  { additionalProperties: false },
);
export type AccountPatch = Static<typeof AccountPatch>;
export const Account = Type.Object({
  ...recordMeta,
  name: Type.String(),
  website: Nullable(Type.String()),
  industry: Nullable(Type.String()),
  phone: Nullable(Type.String()),
  city: Nullable(Type.String()),
  country: Nullable(Type.String()),
  contact_count: Type.Integer(),
  phones: Type.Array(PhoneField),
});
export type Account = Static<typeof Account>;

export const LeadStatus = Type.Union([
  Type.Literal('new'),
  Type.Literal('working'),
  Type.Literal('qualified'),
  Type.Literal('unqualified'),
]);
export type LeadStatus = Static<typeof LeadStatus>;
const leadFields = {
  first_name: line(100, 1),
  last_name: line(100, 1),
  company: Type.Optional(Nullable(line(200))),
  title: Type.Optional(Nullable(line(128))),
  email: Type.Optional(Nullable(Email)),
  phone: Type.Optional(Nullable(PhoneText)),
  mobile: Type.Optional(Nullable(PhoneText)),
  status: Type.Optional(LeadStatus),
};
export const LeadInput = Type.Object(leadFields, { additionalProperties: false });
export type LeadInput = Static<typeof LeadInput>;
export const LeadPatch = Type.Object(
  {
    ...leadFields,
    first_name: Type.Optional(leadFields.first_name),
    last_name: Type.Optional(leadFields.last_name),
    version: Version,
  },
  { additionalProperties: false },
);
export type LeadPatch = Static<typeof LeadPatch>;
export const Lead = Type.Object({
  ...recordMeta,
  first_name: Type.String(),
  last_name: Type.String(),
  name: Type.String(),
  company: Nullable(Type.String()),
  title: Nullable(Type.String()),
  email: Nullable(Type.String()),
  phone: Nullable(Type.String()),
  mobile: Nullable(Type.String()),
  status: LeadStatus,
  phones: Type.Array(PhoneField),
});
export type Lead = Static<typeof Lead>;

export const RecordTypeSchema = Type.Union([Type.Literal('contact'), Type.Literal('lead'), Type.Literal('account')]);
export const ActivityKind = Type.Union([Type.Literal('call'), Type.Literal('meeting'), Type.Literal('note')]);

export const NoteInput = Type.Object(
  {
    record_type: RecordTypeSchema,
    record_id: Id,
    subject: line(200, 1),
    body: Type.Optional(Nullable(Type.String({ maxLength: 10000 }))),
  },
  { additionalProperties: false },
);
export type NoteInput = Static<typeof NoteInput>;

export const Activity = Type.Object({
  id: Id,
  kind: ActivityKind,
  record_type: Nullable(RecordTypeSchema),
  record_id: Nullable(Type.String()),
  user_id: Nullable(Type.String()),
  user_name: Nullable(Type.String()),
  subject: Type.String(),
  body: Nullable(Type.String()),
  occurred_at: Timestamp,
  ends_at: Nullable(Timestamp),
  duration_s: Nullable(Type.Integer()),
  direction: Nullable(Type.Union([Type.Literal('inbound'), Type.Literal('outbound')])),
  disposition: Nullable(Type.String()),
  details: Nullable(Type.Record(Type.String(), Type.Unknown())),
  created_at: Timestamp,
});
export type Activity = Static<typeof Activity>;

export const ListQuery = Type.Object(
  {
    q: Type.Optional(Type.String({ maxLength: 200, description: 'Search: name, company, email or a phone number in any format' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000, default: 0 })),
  },
  { additionalProperties: false },
);
export type ListQuery = Static<typeof ListQuery>;

export const PageInfo = Type.Object({
  limit: Type.Integer(),
  offset: Type.Integer(),
  has_more: Type.Boolean(),
  next_offset: Nullable(Type.Integer()),
});
export type PageInfo = Static<typeof PageInfo>;

export const Page = <T extends TSchema>(item: T) => Type.Object({ data: Type.Array(item), page: PageInfo });
export interface PageOf<T> {
  data: T[];
  page: PageInfo;
}

export interface RecordRef {
  type: 'contact' | 'lead' | 'account';
  id: string;
}
