/**
 * The record page's Activity timeline reloads itself when the softphone says an activity changed
 * (`ringside:activity-changed`, see activity-event.ts): the call that just ended, its notes, an
 * invitation. The list is a Turbo Frame (`turbo-frame[data-timeline-src]`, src/web/pages/timeline.ts)
 * whose own route answers with the list alone, so nothing else on the page is touched: text typed
 * in the note form, the focus, the scroll position and the softphone all stay.
 *
 * The server writes the activity a moment after the call ends (a durable outbox), so the frame is
 * loaded again a few times over several seconds until what it shows changes. A frame reloads for
 * the event's record (an account's frame names its contacts too), or for any record when the event
 * does not say which.
 */
import { ACTIVITY_CHANGED, type ActivityChanged } from './activity-event.ts';

/** Turbo's <turbo-frame> element, as far as it is used here. */
interface FrameElement extends HTMLElement {
  src: string | null;
  loaded: Promise<void>;
  reload(): Promise<void>;
}

/** When to look again after the event, in ms from it; stops at the first change. */
const POLL_AT_MS = [300, 900, 1800, 3000, 4500, 6500];

interface Watch {
  /** What the frame showed when the (last) event came. */
  baseline: string;
  /** Bumped by every event: an older loop stops, the newest one runs its whole schedule. */
  generation: number;
}

const watches = new WeakMap<FrameElement, Watch>();
/** Frames whose last answer did not hold them (see turbo:frame-missing below). */
const missing = new WeakSet<HTMLElement>();

const SELECTOR = 'turbo-frame[data-timeline-src]';

/** What the list shows: activity ids and their text (a note added to a call changes only its text). */
function signature(frame: FrameElement): string {
  const ids = Array.from(frame.querySelectorAll<HTMLElement>('[data-activity-id]'), (li) => li.dataset.activityId).join(',');
  return `${ids}|${(frame.textContent ?? '').replace(/\s+/g, ' ').trim()}`;
}

function shows(frame: FrameElement, record: ActivityChanged['record']): boolean {
  if (!record) return true;
  return (frame.dataset.timelineRecords ?? '').split(/\s+/).includes(`${record.type}:${record.id}`);
}

/** Loads the frame's list again; resolves once it is rendered (or the request failed). */
async function reload(frame: FrameElement): Promise<void> {
  const url = new URL(frame.dataset.timelineSrc!, location.href).href;
  // The first time the frame gets its src; after a redirect (signed out) it goes back to it.
  const src = frame.getAttribute('src');
  if (!src || new URL(src, location.href).href !== url) {
    frame.src = url;
    await frame.loaded;
  } else {
    await frame.reload();
  }
}

async function watch(frame: FrameElement): Promise<void> {
  const current = watches.get(frame);
  const generation = (current?.generation ?? 0) + 1;
  const mine: Watch = { baseline: signature(frame), generation };
  watches.set(frame, mine);
  missing.delete(frame);
  const started = performance.now();
  for (const at of POLL_AT_MS) {
    const wait = at - (performance.now() - started);
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    if (!frame.isConnected || watches.get(frame) !== mine) return;
    try {
      await reload(frame);
    } catch {
      // A failed load leaves the list as it was: the next attempt may do better.
    }
    if (!frame.isConnected || watches.get(frame) !== mine) return;
    if (missing.has(frame)) break;
    if (signature(frame) !== mine.baseline) break;
  }
  if (watches.get(frame) === mine) watches.delete(frame);
}

export function installTimelineRefresh(): void {
  window.addEventListener(ACTIVITY_CHANGED, (event) => {
    const record = (event as CustomEvent<ActivityChanged>).detail?.record ?? null;
    for (const frame of document.querySelectorAll<FrameElement>(SELECTOR)) {
      if (shows(frame, record)) void watch(frame);
    }
  });
  // An answer without the frame (signed out: the sign-in page; the record deleted: Not found):
  // keep the list as it is rather than Turbo's "Content missing", and stop looking.
  document.addEventListener('turbo:frame-missing', (event) => {
    const frame = event.target;
    if (!(frame instanceof HTMLElement) || !frame.matches(SELECTOR)) return;
    event.preventDefault();
    missing.add(frame);
  });
}
