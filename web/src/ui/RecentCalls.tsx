import { useEffect, useState } from 'preact/hooks';
import { api, type RecentCall } from '../phone/api.ts';
import type { PhoneController } from '../phone/controller.ts';
import { Avatar } from './CrmCard.tsx';
import { duration, timeAgo } from './format.ts';
import { Notes } from './Notes.tsx';

const REFRESH_MS = 30_000;
const QUICK_RELOAD_MS = 1500;
const QUICK_RELOADS = 4;

/**
 * The user's latest calls: missed ones in red with Call back, declined ones said so (with Call back,
 * not in red), and each call's wrap-up notes to open and edit. Reloaded whenever it is shown again.
 */
export function RecentCalls({ controller }: { controller: PhoneController }) {
  const [calls, setCalls] = useState<RecentCall[] | null>(null);
  const [failed, setFailed] = useState(false);
  const [openNotes, setOpenNotes] = useState<string | null>(null);

  useEffect(() => {
    let stopped = false;
    let soon: ReturnType<typeof setTimeout> | undefined;
    let quick = 0;
    const load = () =>
      void api<{ data: RecentCall[] }>('GET', '/calls/recent?limit=10')
        .then((r) => {
          if (stopped) return;
          setCalls(r.data);
          setFailed(false);
          // The call that just ended may not be final on the server yet: look again shortly.
          if (r.data.some((c) => c.disposition === null) && quick++ < QUICK_RELOADS) soon = setTimeout(load, QUICK_RELOAD_MS);
        })
        .catch(() => !stopped && setFailed(true));
    load();
    const timer = setInterval(load, REFRESH_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
      clearTimeout(soon);
    };
  }, [controller]);

  const callBack = (c: RecentCall) => {
    if (!c.number) return;
    const record = c.record ? { type: c.record.type, id: c.record.id, name: c.name ?? '' } : null;
    controller.execute({ type: 'call', target: c.number, record });
  };
  // The notes edited here: the row shows them at once, before the next reload.
  const notesChanged = (callId: string, notes: string) => setCalls((list) => list && list.map((c) => (c.call_id === callId ? { ...c, notes: notes.trim() ? notes : null } : c)));

  return (
    <section class="sp-recent" aria-labelledby="sp-recent-title">
      <h3 id="sp-recent-title" class="sp-section-title">
        Recent calls
      </h3>
      {failed && !calls && <p class="small muted">Recent calls cannot be loaded right now.</p>}
      {calls && calls.length === 0 && <p class="small muted">No calls yet.</p>}
      {calls && calls.length > 0 && (
        <ul class="sp-recent-list" aria-label="Recent calls">
          {calls.map((c) => (
            <RecentRow key={c.call_id} call={c} open={openNotes === c.call_id} onToggleNotes={() => setOpenNotes(openNotes === c.call_id ? null : c.call_id)} onCallBack={() => callBack(c)} onNotes={(text) => notesChanged(c.call_id, text)} />
          ))}
        </ul>
      )}
    </section>
  );
}

/** How a call ended, in a word, when that is what matters more than its length. */
function outcome(c: RecentCall): string | null {
  if (c.missed) return 'Missed';
  switch (c.disposition) {
    case 'declined':
      return 'Declined';
    case 'no-answer':
      return 'No answer';
    case 'busy':
      return 'Busy';
    case 'cancelled':
      return 'Cancelled';
    case 'failed':
      return 'Failed';
    default:
      return null;
  }
}

function RecentRow({ call: c, open, onToggleNotes, onCallBack, onNotes }: { call: RecentCall; open: boolean; onToggleNotes: () => void; onCallBack: () => void; onNotes: (text: string) => void }) {
  const who = c.name ?? c.number_display ?? c.number ?? 'Unknown';
  const declined = c.direction === 'inbound' && c.disposition === 'declined';
  const what = c.missed ? 'Missed call' : declined ? 'Declined call' : c.direction === 'inbound' ? 'Inbound call' : 'Outbound call';
  const word = outcome(c);
  const tone = c.missed ? 'missed' : declined ? 'declined' : c.direction;
  const notesId = `sp-recent-notes-${c.call_id}`;
  return (
    <li class={`sp-recent-item ${c.missed ? 'sp-missed' : ''} ${declined ? 'sp-declined' : ''}`} data-call-id={c.call_id} data-disposition={c.disposition ?? ''}>
      <div class="sp-recent-row">
        <Avatar name={who} size="sm" />
        <span class="sp-recent-text">
          <span class="sp-recent-name">{who}</span>
          <span class="sp-recent-meta">
            <span class={`sp-dir sp-dir-${tone}`} aria-hidden="true">
              {c.direction === 'inbound' ? '↙' : '↗'}
            </span>
            <span class="visually-hidden">{what} · </span>
            {c.number_display && c.number_display !== who && <>{c.number_display} · </>}
            {word ? <span class="sp-recent-outcome">{word}</span> : c.duration_s > 0 ? duration(c.duration_s) : c.direction === 'inbound' ? 'Inbound' : 'Outbound'}
          </span>
          {c.notes && !open && <span class="sp-recent-notes-line" title={c.notes}>{c.notes.split('\n')[0]}</span>}
        </span>
        <span class="sp-recent-side">
          <time class="sp-recent-time" dateTime={c.started_at}>
            {timeAgo(c.started_at)}
          </time>
          <span class="sp-recent-actions">
            <button type="button" class="sp-notes-toggle" aria-expanded={open} aria-controls={notesId} aria-label={`Notes on the call with ${who}`} title={c.notes ? 'Edit the notes' : 'Add notes'} onClick={onToggleNotes}>
              Notes
            </button>
            {c.number &&
              (c.missed || declined ? (
                <button type="button" class="sp-callback" onClick={onCallBack}>
                  Call back
                </button>
              ) : (
                <button type="button" class="sp-icon-call" aria-label={`Redial ${who}`} title={`Call ${c.number_display ?? c.number}`} onClick={onCallBack}>
                  <span aria-hidden="true">📞</span>
                </button>
              ))}
          </span>
        </span>
      </div>
      {open && (
        <div id={notesId} class="sp-recent-notes">
          <Notes callId={c.call_id} initial={c.notes ?? ''} scope="recent" autoFocus onChange={onNotes} />
          <button type="button" class="sp-done" onClick={onToggleNotes}>
            Close
          </button>
        </div>
      )}
    </li>
  );
}
