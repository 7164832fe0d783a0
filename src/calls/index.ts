/** Calls role (CRM side of live calls): screen pop, record links, Add contact, notes, recent calls. */
export { CallDesk, deterministicUuid, type CardMatch, type CallDeskOptions, type RecentCall, type ScreenPopMessage } from './call-desk.ts';
