/**
 * Ringside's SIP stack (RFC 3261 and friends): messages, transports, transactions, dialogs and
 * digest authentication. It knows nothing of users, calls or the CRM — that is the app server's.
 */
export * from './message/index.ts';
export * from './transport/index.ts';
export * from './transactions/index.ts';
export * from './dialogs/index.ts';
export * from './auth/index.ts';
export { SipEndpoint, resolveUri, type ListenOptions, type SipEndpointOptions } from './endpoint.ts';
