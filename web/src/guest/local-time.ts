/** The meeting's time in the guest's own time zone, under the page's (the host's) when they differ. */
import type { GuestConfig } from './config.ts';

export function showLocalTime(config: GuestConfig): void {
  const start = Date.parse(config.starts_at);
  const end = Date.parse(config.ends_at);
  const anchor = document.querySelector('time[datetime]');
  if (!anchor || Number.isNaN(start) || Number.isNaN(end)) return;
  let mine: string;
  try {
    mine = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch {
    return;
  }
  const offset = (tz: string) => new Intl.DateTimeFormat('en-US', { timeZone: tz, timeZoneName: 'longOffset' }).formatToParts(start).find((p) => p.type === 'timeZoneName')?.value;
  if (!mine || !config.time_zone || offset(mine) === offset(config.time_zone)) return;
  const day = new Intl.DateTimeFormat(undefined, { weekday: 'long', month: 'long', day: 'numeric' });
  const time = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });
  const sameDay = day.format(start) === day.format(end);
  const text = `Your time: ${day.format(start)}, ${time.format(start)} – ${sameDay ? '' : `${day.format(end)}, `}${time.format(end)}`;
  const line = document.createElement('span');
  line.className = 'guest-local-time';
  line.textContent = text;
  anchor.after(document.createElement('br'), line);
}
