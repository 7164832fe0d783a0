/**
 * Activity pipeline role: turns finished calls into one CRM call log per user, and delivers
 * everything the CRM must get through the durable outbox.
 */
export { ActivityOutbox, enqueue, type OutboxItem, type OutboxOptions, type OutboxStats } from './outbox.ts';
export { buildCallLogs, deviceLabel, estimateMos, type PartyMatch } from './call-logs.ts';
