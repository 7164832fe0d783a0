/**
 * The guest's e-mail for an invitation, its update and its cancellation: plain text and HTML with
 * the join link and the time in the invitation's time zone (named, with its UTC offset), and an
 * iCalendar part and `.ics` attachment (METHOD:REQUEST or CANCEL, a stable UID, SEQUENCE growing
 * with every change) that calendar clients file under the same meeting.
 */
import ical, { ICalAttendeeRole, ICalAttendeeStatus, ICalCalendarMethod, ICalEventStatus } from 'ical-generator';
import type { OutgoingMail } from '../mail/index.ts';
import type { Invitation } from '../store/index.ts';
import { describeWindow } from './time.ts';

export type InvitationMailKind = 'invite' | 'update' | 'cancel';

export interface InvitationMailInput {
  kind: InvitationMailKind;
  invitation: Invitation;
  host: { name: string; email: string };
  link: string;
  from: string;
  /** Minutes before the start from which the link opens. */
  earlyJoinMinutes: number;
  /** Host name of this server, for the UID and Message-ID. */
  domain: string;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export function invitationMail(input: InvitationMailInput): OutgoingMail {
  const { invitation: inv, host, link, kind } = input;
  const start = Date.parse(inv.starts_at);
  const end = Date.parse(inv.ends_at);
  const when = describeWindow(start, end, inv.time_zone);
  const greeting = inv.guest_name ? `Hello ${inv.guest_name},` : 'Hello,';
  const subjectPrefix = kind === 'invite' ? 'Invitation' : kind === 'update' ? 'Updated invitation' : 'Cancelled';
  const subject = `${subjectPrefix}: ${inv.subject} — ${when}`;

  const lead =
    kind === 'invite'
      ? `${host.name} invited you to a video call.`
      : kind === 'update'
        ? `${host.name} changed the time of your video call.`
        : `${host.name} cancelled the video call. The link no longer works.`;
  const howTo = `The link opens in your browser (Chrome, Edge, Firefox or Safari); there is nothing to install. You can join from ${input.earlyJoinMinutes} minutes before the start.`;

  const textLines = [greeting, '', lead, '', `What: ${inv.subject}`, `When: ${when}`];
  if (kind !== 'cancel') textLines.push(`Join: ${link}`);
  if (inv.message && kind !== 'cancel') textLines.push('', inv.message);
  if (kind !== 'cancel') textLines.push('', howTo);
  textLines.push('', `${host.name} · ${host.email}`);
  const text = textLines.join('\n');

  const html = `<!doctype html><html><body style="font-family:system-ui,-apple-system,Segoe UI,sans-serif;font-size:15px;line-height:1.5;color:#1a1d21">
<p>${escapeHtml(greeting)}</p>
<p>${escapeHtml(lead)}</p>
<table role="presentation" style="border-collapse:collapse;margin:12px 0">
<tr><td style="padding:2px 12px 2px 0;color:#5b6470">What</td><td>${escapeHtml(inv.subject)}</td></tr>
<tr><td style="padding:2px 12px 2px 0;color:#5b6470">When</td><td>${escapeHtml(when)}</td></tr>
</table>
${kind !== 'cancel' ? `<p><a href="${escapeHtml(link)}" style="display:inline-block;background:#0b63ce;color:#fff;padding:10px 18px;border-radius:6px;text-decoration:none;font-weight:600">Join video call</a></p>
<p style="font-size:13px;color:#5b6470">Or open this link: <a href="${escapeHtml(link)}">${escapeHtml(link)}</a></p>` : ''}
${inv.message && kind !== 'cancel' ? `<p style="white-space:pre-wrap;border-left:3px solid #d0d5dc;padding-left:10px">${escapeHtml(inv.message)}</p>` : ''}
${kind !== 'cancel' ? `<p style="font-size:13px;color:#5b6470">${escapeHtml(howTo)}</p>` : ''}
<p style="font-size:13px;color:#5b6470">${escapeHtml(host.name)} · <a href="mailto:${escapeHtml(host.email)}">${escapeHtml(host.email)}</a></p>
</body></html>`;

  const method = kind === 'cancel' ? ICalCalendarMethod.CANCEL : ICalCalendarMethod.REQUEST;
  const calendar = ical({ prodId: { company: 'Ringside', product: 'Invitations', language: 'EN' }, method });
  calendar.createEvent({
    id: `${inv.id}@${input.domain}`,
    sequence: inv.sequence,
    start: new Date(start),
    end: new Date(end),
    stamp: new Date(Date.parse(inv.updated_at)),
    summary: inv.subject,
    description: kind === 'cancel' ? lead : `${lead}\n\nJoin: ${link}${inv.message ? `\n\n${inv.message}` : ''}`,
    location: kind === 'cancel' ? null : link,
    url: kind === 'cancel' ? null : link,
    organizer: { name: host.name, email: host.email },
    attendees: [{ email: inv.email, ...(inv.guest_name ? { name: inv.guest_name } : {}), rsvp: true, role: ICalAttendeeRole.REQ, status: ICalAttendeeStatus.NEEDSACTION }],
    status: kind === 'cancel' ? ICalEventStatus.CANCELLED : ICalEventStatus.CONFIRMED,
  });
  const ics = calendar.toString();
  return {
    from: input.from,
    to: inv.guest_name ? `"${inv.guest_name.replace(/["\\]/g, '')}" <${inv.email}>` : inv.email,
    subject,
    text,
    html,
    calendar: { method: kind === 'cancel' ? 'CANCEL' : 'REQUEST', content: ics },
    attachments: [{ filename: kind === 'cancel' ? 'cancel.ics' : 'invite.ics', content: ics, contentType: `text/calendar; charset=utf-8; method=${method}` }],
  };
}
