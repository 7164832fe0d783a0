/**
 * Wrap-up notes as they are typed, by the server's call id: the call card and the wrap-up card
 * after it are different components, and the text must survive the switch. Saves are debounced;
 * the last one for a call wins.
 */
import { announceActivityChanged } from '../crm/activity-event.ts';
import { api } from '../phone/api.ts';

const drafts = new Map<string, string>();
const timers = new Map<string, ReturnType<typeof setTimeout>>();
const saved = new Map<string, string>();
const SAVE_AFTER_MS = 700;

export function draft(callId: string): string {
  return drafts.get(callId) ?? '';
}

/** The notes the server has for a call (Recent calls): the text to edit unless one is being typed. */
export function seed(callId: string, text: string): void {
  if (drafts.has(callId) || timers.has(callId)) return;
  drafts.set(callId, text);
  saved.set(callId, text);
}

export type SaveState = 'idle' | 'saving' | 'saved' | 'error';

/** Typed text: kept now, saved shortly (or at once with `now`). */
export function setDraft(callId: string, text: string, onState: (s: SaveState, error?: string) => void, now = false): void {
  drafts.set(callId, text);
  while (drafts.size > 20) drafts.delete(drafts.keys().next().value!);
  const pending = timers.get(callId);
  if (pending) clearTimeout(pending);
  timers.delete(callId);
  const run = () => {
    timers.delete(callId);
    void save(callId, onState);
  };
  if (now) run();
  else timers.set(callId, setTimeout(run, SAVE_AFTER_MS));
}

/** Saves a pending draft at once (the card is going away). */
export function flush(callId: string, onState: (s: SaveState, error?: string) => void = () => undefined): void {
  if (!timers.has(callId)) return;
  clearTimeout(timers.get(callId));
  timers.delete(callId);
  void save(callId, onState);
}

async function save(callId: string, onState: (s: SaveState, error?: string) => void): Promise<void> {
  const text = drafts.get(callId) ?? '';
  if (saved.get(callId) === text) return onState('saved');
  onState('saving');
  try {
    await api('PUT', `/calls/${encodeURIComponent(callId)}/notes`, { notes: text.trim() ? text : null });
    saved.set(callId, text);
    if (drafts.get(callId) === text) onState('saved');
    // The notes reach the call's activity shortly: an open record page shows them.
    announceActivityChanged({ record: null, reason: 'notes-saved' });
  } catch (err) {
    onState('error', (err as Error).message);
  }
}
