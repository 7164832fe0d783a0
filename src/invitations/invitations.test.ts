/**
 * Invitations end to end over HTTP with a real SMTP server: the guest's mail (link, .ics read by
 * node-ical), the meeting on the contact's timeline, the join link's states over a moved clock,
 * change of time and cancellation, retries while the mail server refuses, and bad input refused
 * with nothing sent.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ical from 'node-ical';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HttpClient, startServer, type TestServer } from '../../test/support/server.ts';
import { TestSmtpServer, type ReceivedMail } from '../../test/support/smtp.ts';
import { waitFor } from '../../test/support/wait.ts';

const HOUR = 3_600_000;

function icsOf(mail: ReceivedMail): ical.VEvent & { method?: string } {
  const part = mail.parsed.attachments.find((a) => a.contentType === 'text/calendar' || a.filename?.endsWith('.ics'));
  expect(part, 'an .ics attachment').toBeTruthy();
  const text = part!.content.toString('utf8');
  const parsed = ical.sync.parseICS(text);
  const event = Object.values(parsed).find((v) => v?.type === 'VEVENT') as ical.VEvent;
  const method = /^METHOD:(\w+)/m.exec(text)?.[1];
  return Object.assign(event, { method });
}

function linkOf(mail: ReceivedMail): string {
  const m = /https?:\/\/\S+\/join\/[A-Za-z0-9_-]{44}/.exec(mail.parsed.text ?? '');
  expect(m, 'a join link in the text body').toBeTruthy();
  return m![0];
}

describe('video call invitations', () => {
  let smtp: TestSmtpServer;
  let server: TestServer;
  // Real time, shifted by the tests that need the link's window to open or close.
  let shift = 0;
  const clock = () => Date.now() + shift;
  /** A whole minute `ms` from now, as ISO (invitations keep times to the minute). */
  const at = (ms: number) => new Date(Math.floor((clock() + ms) / 60_000) * 60_000).toISOString();
  let alice: HttpClient;
  let janeId: string;

  beforeAll(async () => {
    smtp = await TestSmtpServer.start();
    server = await startServer({ env: { SMTP_URL: smtp.url, ACTIVITY_RETRY_BASE_MS: '50', ACTIVITY_RETRY_MAX_MS: '200' }, clock });
    alice = new HttpClient(server.url);
    expect((await alice.login('alice@example.com')).status).toBe(200);
    const found = await alice.get('/api/v1/contacts?q=jane%40acme.com');
    janeId = found.json().data[0].id;
  });
  afterEach(() => {
    smtp.refusing = undefined;
  });
  afterAll(async () => {
    await server?.stop();
    await smtp?.close();
  });

  const invite = (body: Record<string, unknown>) => alice.request('POST', '/api/v1/invitations', { json: body });

  it('mails the guest a link and an .ics with the right times, and puts the meeting on the contact’s timeline', async () => {
    const start = at(2 * HOUR);
    const end = at(2.5 * HOUR);
    const res = await invite({ email: 'jane@acme.com', starts_at: start, ends_at: end, message: 'Looking forward to it!', record_type: 'contact', record_id: janeId });
    expect(res.status).toBe(201);
    const { invitation, delivery } = res.json();
    expect(delivery).toBe('smtp');
    expect(invitation.guest_name).toBe('Jane Doe');
    expect(invitation.state).toBe('upcoming');

    const mail = await smtp.waitForMail((m) => m.to.includes('jane@acme.com') && /^Invitation:/.test(m.parsed.subject ?? ''));
    expect(mail.parsed.html).toContain('Join video call');
    expect(mail.parsed.text).toContain('Looking forward to it!');
    expect(mail.parsed.text).toMatch(/When: .+ (Standard|Daylight) Time \(UTC[−+]\d{2}:\d{2}\)/);
    expect(linkOf(mail)).toBe(invitation.link);
    const event = icsOf(mail);
    expect(event.method).toBe('REQUEST');
    expect(new Date(event.start).toISOString()).toBe(start);
    expect(new Date(event.end!).toISOString()).toBe(end);
    expect(JSON.stringify(event.organizer)).toContain('alice@example.com');
    expect(JSON.stringify(event.attendee)).toContain('jane@acme.com');

    const meeting = await waitFor(async () => {
      const acts = (await alice.get(`/api/v1/activities?record_type=contact&record_id=${janeId}`)).json().data as { kind: string; subject: string; occurred_at: string }[];
      return acts.find((a) => a.kind === 'meeting' && a.subject === 'Video call with Alice Adams');
    }, { what: 'the meeting on Jane’s timeline' });
    expect(meeting.occurred_at).toBe(start);
    const timeline = await alice.get(`/contacts/${janeId}`, { accept: 'text/html' });
    expect(timeline.text).toContain('Video call with Alice Adams');
  });

  it('opens the link only within its window: countdown before, the join page during, “ended” after', async () => {
    const res = await invite({ email: 'sam@example.org', guest_name: 'Sam Guest', starts_at: at(HOUR), ends_at: at(2 * HOUR) });
    const { invitation } = res.json();
    const guest = new HttpClient(server.url);
    const path = new URL(invitation.link).pathname;

    const before = await guest.get(path, { accept: 'text/html' });
    expect(before.status).toBe(200);
    expect(before.text).toContain('You can join from');
    expect(before.text).not.toContain('Join call');

    try {
      shift = HOUR - 9 * 60_000; // 9 minutes before the start: inside the 10-minute margin
      const during = await guest.get(path, { accept: 'text/html' });
      expect(during.text).toContain('Join call');
      expect(during.text).toContain('value="Sam Guest"');

      shift = 2 * HOUR + 60_000;
      const after = await guest.get(path, { accept: 'text/html' });
      expect(after.text).toContain('This invitation has ended');
      expect(after.text).toContain('alice@example.com');
    } finally {
      shift = 0;
    }
  });

  it('treats tampered, unknown and cancelled links alike: not found, nothing revealed', async () => {
    const { invitation } = (await invite({ email: 'kim@example.org', starts_at: at(HOUR), ends_at: at(2 * HOUR) })).json();
    const guest = new HttpClient(server.url);
    const path = new URL(invitation.link).pathname;
    const swap = (c: string) => (c === 'A' ? 'B' : 'A');
    const tampered = await guest.get(path.slice(0, -10) + swap(path.at(-10)!) + path.slice(-9), { accept: 'text/html' });
    // A→B in the last character may change only the padding bits: still another link.
    const respelled = await guest.get(path.slice(0, -1) + (path.at(-1) === 'A' ? 'B' : 'A'), { accept: 'text/html' });
    const unknown = await guest.get('/join/' + 'x'.repeat(44), { accept: 'text/html' });
    const garbage = await guest.get('/join/..%2F..%2Fetc', { accept: 'text/html' });
    for (const r of [tampered, respelled, unknown, garbage]) {
      expect(r.status).toBe(404);
      expect(r.text).toContain('This link does not work');
    }

    const cancelled = await alice.request('POST', `/api/v1/invitations/${invitation.id}/cancel`, { json: {} });
    expect(cancelled.status).toBe(200);
    expect(cancelled.json().state).toBe('cancelled');
    const gone = await guest.get(path, { accept: 'text/html' });
    expect(gone.status).toBe(404);
    expect(gone.text).toBe(unknown.text);
    const mail = await smtp.waitForMail((m) => m.to.includes('kim@example.org') && /^Cancelled:/.test(m.parsed.subject ?? ''));
    const event = icsOf(mail);
    expect(event.method).toBe('CANCEL');
    expect(event.uid).toContain(invitation.id);
    expect(Number(event.sequence)).toBe(1);
  });

  it('changes the time: an updated .ics with the same UID and SEQUENCE + 1, one meeting moved on the timeline', async () => {
    const { invitation } = (
      await invite({ email: 'jane@acme.com', subject: 'Contract review', starts_at: at(3 * HOUR), ends_at: at(4 * HOUR), record_type: 'contact', record_id: janeId })
    ).json();
    const first = icsOf(await smtp.waitForMail((m) => (m.parsed.subject ?? '').startsWith('Invitation: Contract review')));
    const newStart = at(5 * HOUR);
    const moved = await alice.request('PUT', `/api/v1/invitations/${invitation.id}/time`, { json: { starts_at: newStart, ends_at: at(5.5 * HOUR) } });
    expect(moved.status).toBe(200);
    expect(moved.json().sequence).toBe(1);
    const update = icsOf(await smtp.waitForMail((m) => (m.parsed.subject ?? '').startsWith('Updated invitation: Contract review')));
    expect(update.uid).toBe(first.uid);
    expect(Number(update.sequence)).toBe(1);
    expect(new Date(update.start).toISOString()).toBe(newStart);
    await waitFor(async () => {
      const acts = (await alice.get(`/api/v1/activities?record_type=contact&record_id=${janeId}`)).json().data as { subject: string; occurred_at: string }[];
      const meetings = acts.filter((a) => a.subject === 'Contract review');
      return meetings.length === 1 && meetings[0]!.occurred_at === newStart;
    }, { what: 'the one meeting moved' });
  });

  it('keeps the mail while the mail server refuses it, shows the error to the user, and sends it once when it is back', async () => {
    smtp.refusing = 'Mailbox temporarily unavailable';
    const before = smtp.received.length;
    const { invitation } = (await invite({ email: 'lee@example.org', starts_at: at(HOUR), ends_at: at(2 * HOUR) })).json();
    const failing = await waitFor(async () => {
      const v = (await alice.get(`/api/v1/invitations/${invitation.id}`)).json();
      return v.mail?.state === 'retrying' ? v : undefined;
    }, { what: 'the mail marked as retrying' });
    expect(failing.mail.last_error).toContain('Mailbox temporarily unavailable');
    const page = await alice.get(`/invitations/${invitation.id}`, { accept: 'text/html' });
    expect(page.text).toContain('Mail not sent yet');

    smtp.refusing = undefined;
    await smtp.waitForMail((m) => m.to.includes('lee@example.org'));
    await waitFor(async () => (await alice.get(`/api/v1/invitations/${invitation.id}`)).json().mail?.state === 'sent', { what: 'mail sent' });
    expect(smtp.received.slice(before).filter((m) => m.to.includes('lee@example.org'))).toHaveLength(1);
  });

  it('refuses bad input with a field error and sends nothing', async () => {
    const start = at(HOUR);
    const end = at(2 * HOUR);
    const cases: [Record<string, unknown>, string][] = [
      [{ email: 'not-an-address', starts_at: start, ends_at: end }, 'email'],
      [{ email: 'a@b.com\r\nBcc: victim@example.org', starts_at: start, ends_at: end }, 'email'],
      [{ email: 'a@example.org', guest_name: 'Eve\r\nBcc: x@example.org', starts_at: start, ends_at: end }, 'guest_name'],
      [{ email: 'a@example.org', subject: 'Hi\nX-Injected: 1', starts_at: start, ends_at: end }, 'subject'],
      [{ email: 'a@example.org', starts_at: end, ends_at: start }, 'ends_at'],
      [{ email: 'a@example.org', starts_at: at(-3 * HOUR), ends_at: at(-2 * HOUR) }, 'ends_at'],
      [{ email: 'a@example.org', starts_at: start, ends_at: at(30 * HOUR) }, 'ends_at'],
      [{ email: 'a@example.org', starts_at: '9999-01-01T10:00:00Z', ends_at: '9999-01-01T11:00:00Z' }, 'starts_at'],
      [{ email: 'a@example.org', starts_at: at(400 * 24 * HOUR), ends_at: at(400 * 24 * HOUR + HOUR) }, 'starts_at'],
      [{ email: 'a@example.org', starts_at: '2026-02-30T10:00', ends_at: '2026-02-30T11:00' }, 'starts_at'],
      [{ email: 'a@example.org', starts_at: start, ends_at: end, time_zone: 'Mars/Olympus' }, 'time_zone'],
      [{ email: 'a@example.org', starts_at: start, ends_at: end, message: 'x'.repeat(5000) }, 'message'],
    ];
    const mailsBefore = smtp.received.length;
    const listBefore = (await alice.get('/api/v1/invitations')).json().data.length;
    for (const [body, field] of cases) {
      const res = await invite(body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(res.json().error.field, JSON.stringify(body).slice(0, 80)).toBe(field);
    }
    expect(await invite({ email: 'a@example.org', starts_at: start })).toMatchObject({ status: 400 });
    const badJson = await alice.request('POST', '/api/v1/invitations', { body: '{"email":', headers: { 'content-type': 'application/json' } });
    expect(badJson.status).toBe(400);
    expect((await alice.get('/api/v1/invitations')).json().data.length).toBe(listBefore);
    // Give a wrongly queued mail every chance to show up: wake the outbox and let it drain.
    await server.ringside.outbox.drain();
    expect(smtp.received.length).toBe(mailsBefore);
  });

  it('the invitation form: defaults to the next half hour for 30 minutes, prefilled from the ✉ button; errors shown in the form', async () => {
    const form = await alice.get(`/invitations/new?email=jane%40acme.com&record_type=contact&record_id=${janeId}`, { accept: 'text/html' });
    expect(form.status).toBe(200);
    expect(form.text).toContain('Invite to video call');
    expect(form.text).toContain('value="jane@acme.com"');
    expect(form.text).toContain('Send invitation');
    const start = /name="starts_at"[^>]*value="([^"]+)"/.exec(form.text)![1]!;
    const end = /name="ends_at"[^>]*value="([^"]+)"/.exec(form.text)![1]!;
    expect(start.endsWith(':00') || start.endsWith(':30')).toBe(true);
    expect(Date.parse(`${end}:00Z`) - Date.parse(`${start}:00Z`)).toBe(30 * 60_000);

    const bad = await alice.request('POST', '/invitations', { form: { _csrf: alice.csrf, email: 'nope', starts_at: start, ends_at: end }, headers: { accept: 'text/html' } });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('This is not a valid email address');
    const good = await alice.request('POST', '/invitations', { form: { _csrf: alice.csrf, email: 'jane@acme.com', starts_at: start, ends_at: end, record_type: 'contact', record_id: janeId }, headers: { accept: 'text/html' } });
    expect(good.status).toBe(303);
    const shown = await alice.get(good.headers.get('location')!, { accept: 'text/html' });
    expect(shown.text).toContain('Invitation sent.');
    expect(shown.text).toMatch(/\/join\/[A-Za-z0-9_-]{44}/);
  });
});

describe('invitations without a mail server', () => {
  it('writes the mail as an .eml file under DATA_DIR/mail and gives the user the link', async () => {
    const server = await startServer();
    try {
      const alice = new HttpClient(server.url);
      await alice.login('alice@example.com');
      const hour = (n: number) => new Date(Math.floor(Date.now() / 60_000) * 60_000 + n * HOUR).toISOString();
      const res = await alice.request('POST', '/api/v1/invitations', { json: { email: 'guest@example.org', starts_at: hour(1), ends_at: hour(2) } });
      expect(res.status).toBe(201);
      expect(res.json().delivery).toBe('file');
      const link = res.json().invitation.link as string;
      const dir = path.join(server.dataDir, 'mail');
      const file = await waitFor(() => {
        try {
          return readdirSync(dir).find((f) => f.endsWith('.eml'));
        } catch {
          return undefined;
        }
      }, { what: 'an .eml file' });
      const eml = readFileSync(path.join(dir, file), 'utf8');
      expect(eml).toContain('To: guest@example.org');
      expect(eml).toContain('text/calendar');
      expect(eml.replace(/=\r?\n/g, '')).toContain(link);
    } finally {
      await server.stop();
    }
  });
});
