import { useEffect, useState } from 'preact/hooks';
import { api, type RecentCall } from '../phone/api.ts';
import type { PhoneController } from '../phone/controller.ts';
import { Avatar } from './CrmCard.tsx';
import { duration, timeAgo } from './format.ts';

const REFRESH_MS = 30_000;

/** The user's latest calls; missed ones in red with Call back. Reloaded whenever it is shown again. */
export function RecentCalls({ controller }: { controller: PhoneController }) {
  const [calls, setCalls] = useState<RecentCall[] | null>(null);
  const [failed, setFailed] = useState(false);

  useEffect(() => {
    let stopped = false;
    const load = () =>
      void api<{ data: RecentCall[] }>('GET', '/calls/recent?limit=10')
        .then((r) => {
          if (stopped) return;
          setCalls(r.data);
          setFailed(false);
        })
        .catch(() => !stopped && setFailed(true));
    load();
    const timer = setInterval(load, REFRESH_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [controller]);

  const callBack = (c: RecentCall) => {
    if (!c.number) return;
    const record = c.record ? { type: c.record.type, id: c.record.id, name: c.name ?? '' } : null;
    controller.execute({ type: 'call', target: c.number, record });
  };

  return (
    <section class="sp-recent" aria-labelledby="sp-recent-title">
      <h3 id="sp-recent-title" class="sp-section-title">
        Recent calls
      </h3>
      {failed && !calls && <p class="small muted">Recent calls cannot be loaded right now.</p>}
      {calls && calls.length === 0 && <p class="small muted">No calls yet.</p>}
      {calls && calls.length > 0 && (
        <ul class="sp-recent-list" aria-label="Recent calls">
          {calls.map((c) => {
            const who = c.name ?? c.number_display ?? c.number ?? 'Unknown';
            const what = c.missed ? 'Missed call' : c.direction === 'inbound' ? 'Inbound call' : 'Outbound call';
            return (
              <li key={c.call_id} class={`sp-recent-item ${c.missed ? 'sp-missed' : ''}`} data-call-id={c.call_id}>
                <Avatar name={who} size="sm" />
                <span class="sp-recent-text">
                  <span class="sp-recent-name">{who}</span>
                  <span class="sp-recent-meta">
                    <span class={`sp-dir sp-dir-${c.missed ? 'missed' : c.direction}`} aria-hidden="true">
                      {c.direction === 'inbound' ? '↙' : '↗'}
                    </span>
                    <span class="visually-hidden">{what} · </span>
                    {c.number_display && c.number_display !== who ? c.number_display : what}
                    {!c.missed && c.duration_s > 0 && <> · {duration(c.duration_s)}</>}
                  </span>
                </span>
                <span class="sp-recent-side">
                  <time class="sp-recent-time" dateTime={c.started_at}>
                    {timeAgo(c.started_at)}
                  </time>
                {c.number &&
                  (c.missed ? (
                    <button type="button" class="sp-callback" onClick={() => callBack(c)}>
                      Call back
                    </button>
                  ) : (
                    <button type="button" class="sp-icon-call" aria-label={`Redial ${who}`} title={`Call ${c.number_display ?? c.number}`} onClick={() => callBack(c)}>
                      <span aria-hidden="true">📞</span>
                    </button>
                  ))}
                </span>
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
