/**
 * App server role: registrar and location service, the call-anchoring B2BUA with parallel
 * forking, trunks, and the call events the CRM pipeline consumes.
 */
export { AppServer, type AppServerDeps } from './app-server.ts';
export { CallEventBus, CallRecorder, type CallEvent, type CallEndCause, type CallParty } from './call-events.ts';
export { describeDevice } from './location-service.ts';
export { COMPLETED_ELSEWHERE } from './b2bua/call.ts';
