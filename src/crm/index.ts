/**
 * CRM role: the port every other role uses, the built-in CRM behind it by default, and the
 * resource schemas of the built-in CRM's API and pages.
 */
export type { AddContactResult, CallDisposition, CallLog, CallQuality, CrmPort, CrmMatch, CrmRecordSummary, DeliveryResult, InvitationLog, NewContact, RecordRef } from './port.ts';
export { BuiltinCrm, type BuiltinCrmOptions } from './builtin/index.ts';
export * as schemas from './schemas.ts';
export type { Account, Activity, Contact, Lead, PageOf } from './schemas.ts';
