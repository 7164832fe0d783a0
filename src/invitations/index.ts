/**
 * Invitations role: video-call invitations by mail, their join links and the guest identity a link
 * grants (one user, one window). Mail and CRM meetings go out through the activity outbox.
 */
export { InvitationService, type GuestPass, type InvitationInput, type InvitationLimits, type InvitationView, type JoinState, type RescheduleInput } from './service.ts';
export { describeWindow, isTimeZone, utcToZonedLocal, zonedLocalToUtc } from './time.ts';
