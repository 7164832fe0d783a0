/**
 * Before the link opens: "The call opens in 4:59", ticking by the server's clock; at zero the page
 * reloads, and the server (whose clock decides) then renders the join form.
 */
import { serverSkew, type GuestConfig } from './config.ts';

export function formatRemaining(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const d = Math.floor(total / 86_400);
  const h = Math.floor((total % 86_400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  if (d > 0) return `${d} day${d === 1 ? '' : 's'} ${h}:${pad(m)}:${pad(s)}`;
  return h > 0 ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
}

export function countdown(config: GuestConfig): void {
  const el = document.querySelector<HTMLElement>('.guest-countdown');
  const opensAt = Date.parse(config.opens_at);
  if (!el || Number.isNaN(opensAt)) return;
  const skew = serverSkew(config);
  const time = document.createElement('span');
  time.className = 'guest-countdown-time';
  // role=timer: read on request, not announced every second.
  time.setAttribute('role', 'timer');
  const note = document.createElement('span');
  note.className = 'visually-hidden';
  note.setAttribute('aria-live', 'polite');
  el.replaceChildren('The call opens in ', time, note);

  let timer: ReturnType<typeof setTimeout> | undefined;
  const tick = () => {
    const remaining = opensAt - (Date.now() + skew);
    if (remaining <= 0) {
      time.textContent = '0:00';
      note.textContent = 'The call is open: loading the page to join.';
      location.reload();
      return;
    }
    time.textContent = formatRemaining(remaining);
    // Next tick on the next whole second of the remaining time.
    timer = setTimeout(tick, remaining % 1000 || 1000);
  };
  tick();
  window.addEventListener('pagehide', () => clearTimeout(timer), { once: true });
}
