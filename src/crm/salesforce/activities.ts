/**
 * Ringside's activities as Salesforce records: a call log → a Task (`TaskSubtype = Call`, the
 * call-center fields, contract §5.1), an invitation → an Event (§5.3).
 */
import type { CallDisposition, CallLog, InvitationLog } from '../port.ts';

/** Where an activity attaches: the person (WhoId: contact or lead) and the thing (WhatId: account). */
export interface ActivityTarget {
  whoId: string | null;
  whatId: string | null;
  /** The record's name, for the subject. */
  name: string | null;
}

const DISPOSITION: Record<CallDisposition, string> = {
  answered: 'Answered',
  'no-answer': 'No answer',
  busy: 'Busy',
  declined: 'Declined',
  'answered-elsewhere': 'Answered elsewhere',
  cancelled: 'Cancelled',
  failed: 'Failed',
  interrupted: 'Interrupted',
};

/** "Inbound call from Jane Doe (+1 415 555 0134)", "Missed call from …", "Outbound call to …". */
export function callSubject(log: CallLog, target: ActivityTarget, display: (n: string) => string): string {
  const number = log.counterpart.number ? display(log.counterpart.number) : null;
  const name = target.name ?? (log.counterpart.display && log.counterpart.display !== log.counterpart.number ? log.counterpart.display : null);
  const who = name && number ? `${name} (${number})` : name ?? number ?? 'unknown number';
  const towards = log.direction === 'inbound' ? `from ${who}` : `to ${who}`;
  const dir = log.direction === 'inbound' ? 'Inbound' : 'Outbound';
  if (log.disposition === 'answered') return `${dir} call ${towards}`;
  if (log.disposition === 'no-answer' && log.direction === 'inbound') return `Missed call ${towards}`;
  return `${DISPOSITION[log.disposition]} ${log.direction} call ${towards}`;
}

/** The Description: the user's notes first, then what happened and how it sounded. */
export function callDescription(log: CallLog, display: (n: string) => string): string {
  const lines: string[] = [];
  if (log.notes?.trim()) lines.push(log.notes.trim(), '');
  if (log.answeredDevice) lines.push(`Answered on ${log.answeredDevice}.`);
  if (log.answeredElsewhereBy) lines.push(`Answered by ${log.answeredElsewhereBy}.`);
  if (log.counterpart.number) lines.push(`Number: ${display(log.counterpart.number)}`);
  const q = log.quality;
  if (q && (q.mos !== null || q.jitterMs !== null || q.lossPct !== null || q.rttMs !== null)) {
    const parts = [
      q.mos !== null ? `MOS ${q.mos}` : null,
      q.jitterMs !== null ? `jitter ${q.jitterMs} ms` : null,
      q.lossPct !== null ? `loss ${q.lossPct} %` : null,
      q.rttMs !== null ? `round trip ${q.rttMs} ms` : null,
    ].filter(Boolean);
    lines.push(`Call quality: ${parts.join(', ')}`);
  }
  lines.push(`Ringside call: ${callIdOf(log.key)}`);
  return lines.join('\n').slice(0, 32_000);
}

/** `call:<call id>:<user id>` → the call id. */
export function callIdOf(key: string): string {
  return /^call:([^:]+):/.exec(key)?.[1] ?? key;
}

/**
 * The Task fields of a call. `CallObject` holds the log's key — the Ringside call id with the
 * user's id, since one call rung to several users is one Task per user, and the key must name
 * exactly one Task for the duplicate check of orgs without the external-ID field.
 */
export function taskFields(log: CallLog, target: ActivityTarget, ownerId: string | null, display: (n: string) => string): Record<string, unknown> {
  return {
    Subject: callSubject(log, target, display).slice(0, 255),
    ...(target.whoId ? { WhoId: target.whoId } : {}),
    ...(target.whatId ? { WhatId: target.whatId } : {}),
    ...(ownerId ? { OwnerId: ownerId } : {}),
    ActivityDate: log.startedAt.slice(0, 10),
    Status: 'Completed',
    Priority: 'Normal',
    TaskSubtype: 'Call',
    Type: 'Call',
    CallType: log.direction === 'inbound' ? 'Inbound' : 'Outbound',
    CallDurationInSeconds: Math.max(0, Math.round(log.durationS)),
    CallDisposition: log.answeredElsewhereBy ? `Answered elsewhere (${log.answeredElsewhereBy})`.slice(0, 255) : DISPOSITION[log.disposition],
    CallObject: log.key.slice(0, 255),
    Description: callDescription(log, display),
  };
}

/** The Event of an invitation: start/end, the join link as Location, cancelled ones marked. */
export function eventFields(inv: InvitationLog, target: ActivityTarget, ownerId: string | null): Record<string, unknown> {
  const cancelled = inv.status === 'cancelled';
  const description = [inv.message?.trim() || null, `Join link: ${inv.link}`, `Guest: ${inv.guestEmail}`, cancelled ? 'This invitation was cancelled.' : null]
    .filter(Boolean)
    .join('\n');
  return {
    Subject: `${cancelled ? 'Cancelled: ' : ''}${inv.subject}`.slice(0, 255),
    StartDateTime: new Date(inv.startsAt).toISOString(),
    EndDateTime: new Date(inv.endsAt).toISOString(),
    IsAllDayEvent: false,
    ...(target.whoId ? { WhoId: target.whoId } : {}),
    ...(target.whatId ? { WhatId: target.whatId } : {}),
    ...(ownerId ? { OwnerId: ownerId } : {}),
    Location: inv.link.slice(0, 255),
    Description: description.slice(0, 32_000),
    ShowAs: cancelled ? 'Free' : 'Busy',
  };
}
