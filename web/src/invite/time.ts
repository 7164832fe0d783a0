/** Local date-times in a named time zone, as `<input type="datetime-local">` reads and writes them. */

const HALF_HOUR = 30 * 60_000;

/** `YYYY-MM-DDTHH:mm` of the instant `ms` in `timeZone`. */
export function zonedLocal(ms: number, timeZone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
      .formatToParts(ms)
      .map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
}

/** The next half hour (at least a minute away) for 30 minutes: the dialog's default window. */
export function defaultWindow(now: number, timeZone: string): { start: string; end: string } {
  const start = Math.ceil((now + 60_000) / HALF_HOUR) * HALF_HOUR;
  return { start: zonedLocal(start, timeZone), end: zonedLocal(start + HALF_HOUR, timeZone) };
}

/** The browser's own zone, when the server's idea of the user's is not known. */
export function browserTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}
