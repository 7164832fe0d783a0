/** The local Salesforce stand-in and its helpers (tests and bench/salesforce-budget only). */
export { SalesforceStandIn, EXTERNAL_ID_FIELD, PHONE_FIELDS, type RequestLogEntry, type StandInOptions } from './stand-in.ts';
export { makeAppKeys, type AppKeys } from './keys.ts';
