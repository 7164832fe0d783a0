/**
 * `ringside:activity-changed` on window: something the browser did has changed (or is about to
 * change) a record's activities — a call ended, its wrap-up notes were saved, an invitation was
 * sent. The server writes the activity shortly after (the activity outbox), so whoever listens
 * looks again for a few seconds (web/src/crm/timeline.ts reloads the open record's timeline).
 * No dependencies: the softphone code, shared with the Salesforce frame, imports this.
 */
export const ACTIVITY_CHANGED = 'ringside:activity-changed';

export interface ActivityChanged {
  /** The record whose timeline changes, or null when it is not known here (any record may). */
  record: { type: string; id: string } | null;
  reason: 'call-ended' | 'notes-saved' | 'invitation-sent';
}

export function announceActivityChanged(detail: ActivityChanged): void {
  window.dispatchEvent(new CustomEvent<ActivityChanged>(ACTIVITY_CHANGED, { detail }));
}
