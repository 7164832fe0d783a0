/**
 * The Salesforce adapter behind the CRM port: REST (JWT bearer sign-in, the phone-index mirror and
 * its sync, Tasks and Events in batches within the API budget), and the Open CTI call center file.
 */
export { SalesforceCrm, type SalesforceCrmOptions, type SalesforceHealth, type SalesforceSettings } from './adapter.ts';
export { SalesforceClient, SalesforceError, type ApiUsage } from './client.ts';
export { renderCallCenterXml, type CallCenterOptions } from './callcenter.ts';
export { addSalesforceReadiness } from './readiness.ts';
export { createSalesforceCrm, salesforceSettings } from './setup.ts';
export type { SyncProgress } from './sync.ts';
