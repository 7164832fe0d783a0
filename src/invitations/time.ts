/** Wall-clock times in a named time zone, with nothing but `Intl` (no tz database of our own). */

export function isTimeZone(tz: string): boolean {
  if (!tz || tz.length > 64) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** The zone's offset from UTC at that instant, in minutes (east positive). */
export function offsetMinutes(ms: number, tz: string): number {
  const name = new Intl.DateTimeFormat('en-US', { timeZone: tz, timeZoneName: 'longOffset' }).formatToParts(ms).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
  const m = /GMT([+-])(\d{2}):?(\d{2})?/.exec(name);
  if (!m) return 0;
  return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3] ?? 0));
}

const LOCAL = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/;

/**
 * A `datetime-local` value (`2026-11-26T10:00`) read in `tz`, as epoch ms; undefined when it is
 * not a real date. In a DST gap the later offset wins (02:30 on a spring-forward day is 03:30).
 */
export function zonedLocalToUtc(local: string, tz: string): number | undefined {
  const m = LOCAL.exec(local);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6] ?? '0'].map(Number) as [number, number, number, number, number, number];
  const asUtc = Date.UTC(y, mo - 1, d, h, mi, s);
  const check = new Date(asUtc);
  if (check.getUTCFullYear() !== y || check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) return undefined;
  let guess = asUtc - offsetMinutes(asUtc, tz) * 60_000;
  guess = asUtc - offsetMinutes(guess, tz) * 60_000;
  return guess;
}

/** `2026-11-26T10:00` for a `datetime-local` input showing this instant in `tz`. */
export function utcToZonedLocal(ms: number, tz: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
      .formatToParts(ms)
      .map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
}

/** "Thursday, November 26, 2026" / "10:00 AM" / "Pacific Standard Time (UTC−08:00)" in `tz`. */
export function describeInZone(ms: number, tz: string): { date: string; time: string; zone: string } {
  const date = new Intl.DateTimeFormat('en-US', { timeZone: tz, weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' }).format(ms);
  const time = new Intl.DateTimeFormat('en-US', { timeZone: tz, hour: 'numeric', minute: '2-digit' }).format(ms);
  const long = new Intl.DateTimeFormat('en-US', { timeZone: tz, timeZoneName: 'long' }).formatToParts(ms).find((p) => p.type === 'timeZoneName')?.value ?? tz;
  const off = offsetMinutes(ms, tz);
  const sign = off < 0 ? '−' : '+';
  const abs = Math.abs(off);
  const utc = `UTC${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
  return { date, time, zone: `${long} (${utc})` };
}

/** "Thursday, November 26, 2026, 10:00 AM – 10:30 AM Pacific Standard Time (UTC−08:00)". */
export function describeWindow(startMs: number, endMs: number, tz: string): string {
  const a = describeInZone(startMs, tz);
  const b = describeInZone(endMs, tz);
  return a.date === b.date ? `${a.date}, ${a.time} – ${b.time} ${a.zone}` : `${a.date}, ${a.time} – ${b.date}, ${b.time} ${b.zone}`;
}
