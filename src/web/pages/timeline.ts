/**
 * The activity timeline of a record and its "Add note" form. The list sits in a Turbo Frame of
 * its own (`timeline-<type>-<id>`), served alone by `GET /<type>s/:id/timeline`, so the page
 * reloads just the list when the softphone says an activity changed (web/src/crm/timeline.ts)
 * while what is typed in the note form, or anywhere else on the page, stays.
 */
import type { Activity, PageOf } from '../../crm/index.ts';
import type { RecordRef } from '../../crm/schemas.ts';
import { html, type Html } from '../html.ts';
import { formatDateTime, formatDuration, type PageContext } from './layout.ts';

const KIND_ICON: Record<Activity['kind'], string> = { call: '📞', meeting: '🎥', note: '📝' };

function activityMeta(a: Activity): string[] {
  const parts: string[] = [];
  if (a.kind === 'call') {
    if (a.direction) parts.push(a.direction === 'inbound' ? 'Inbound' : 'Outbound');
    if (a.disposition) parts.push(a.disposition);
    if (a.duration_s !== null && a.duration_s > 0) parts.push(formatDuration(a.duration_s));
  }
  if (a.user_name) parts.push(`by ${a.user_name}`);
  return parts;
}

export interface TimelineOptions {
  /** An account's timeline also holds its contacts' activities: link to the contact. */
  showRecordLinks?: boolean;
  /** Other records whose activities this timeline shows (an account's contacts). */
  related?: RecordRef[];
}

/** The Turbo Frame's id for a record's timeline. */
export function timelineFrameId(ref: RecordRef): string {
  return `timeline-${ref.type}-${ref.id}`;
}

/**
 * The list alone, in its frame: what the page shows, and all that `GET /<type>s/:id/timeline`
 * answers. Links in it leave the frame (`target="_top"`) and go to their page.
 */
export function timelineFrame(ctx: PageContext, ref: RecordRef, activities: PageOf<Activity>, opts: TimelineOptions = {}): Html {
  const tz = ctx.user.time_zone;
  const records = [ref, ...(opts.related ?? [])].map((r) => `${r.type}:${r.id}`).join(' ');
  return html`<turbo-frame id="${timelineFrameId(ref)}" class="timeline-frame" target="_top" data-timeline-src="/${ref.type}s/${ref.id}/timeline" data-timeline-records="${records}">
    ${activities.data.length === 0
      ? html`<p class="muted">No activity yet. Calls and invitations appear here by themselves.</p>`
      : html`<ol class="timeline">${activities.data.map(
          (a) => html`<li class="timeline-item kind-${a.kind}" data-activity-id="${a.id}">
            <span class="timeline-icon" aria-hidden="true">${KIND_ICON[a.kind]}</span>
            <div>
              <p class="timeline-subject">${a.subject}
                ${opts.showRecordLinks && a.record_type === 'contact' && a.record_id !== ref.id ? html` · <a href="/contacts/${a.record_id}">contact</a>` : ''}</p>
              <p class="timeline-meta"><time datetime="${a.occurred_at}">${formatDateTime(a.occurred_at, tz)}</time>
                ${activityMeta(a).map((m) => html` · <span>${m}</span>`)}</p>
              ${a.body ? html`<p class="timeline-body">${a.body}</p>` : ''}
            </div>
          </li>`,
        )}</ol>`}
  </turbo-frame>`;
}

export function timeline(ctx: PageContext, ref: RecordRef, activities: PageOf<Activity>, opts: TimelineOptions = {}): Html {
  return html`<section class="card" aria-labelledby="activity-heading" id="activity">
    <h2 id="activity-heading">Activity</h2>
    <form class="note-form" method="post" action="/notes">
      <input type="hidden" name="_csrf" value="${ctx.csrf}">
      <input type="hidden" name="record_type" value="${ref.type}">
      <input type="hidden" name="record_id" value="${ref.id}">
      <label class="visually-hidden" for="note-subject">Note</label>
      <input id="note-subject" name="subject" required maxlength="200" placeholder="Add a note…">
      <label class="visually-hidden" for="note-body">Details</label>
      <textarea id="note-body" name="body" rows="2" maxlength="10000" placeholder="Details (optional)"></textarea>
      <button type="submit">Add note</button>
    </form>
    ${timelineFrame(ctx, ref, activities, opts)}
  </section>`;
}
