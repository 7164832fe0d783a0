/**
 * npm run test-call -- alice@example.com [--from +14155550134] [--duration 20]
 *
 * Rings a user of the running Ringside from its built-in test caller: every device of theirs
 * rings; answered, it plays a tone and hangs up after the duration. Signs in as an administrator:
 * RINGSIDE_URL (default http://127.0.0.1:8080), RINGSIDE_EMAIL (default admin@example.com),
 * RINGSIDE_PASSWORD (default the demo password, DEMO_PASSWORD or "ringside-demo").
 */
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { from: { type: 'string' }, duration: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
});
if (values.help || positionals.length !== 1) {
  process.stdout.write('usage: npm run test-call -- <user email> [--from +E164] [--duration seconds]\n');
  process.exit(values.help ? 0 : 2);
}
const base = (process.env.RINGSIDE_URL ?? 'http://127.0.0.1:8080').replace(/\/$/, '');
const email = process.env.RINGSIDE_EMAIL ?? 'admin@example.com';
const password = process.env.RINGSIDE_PASSWORD ?? process.env.DEMO_PASSWORD ?? 'ringside-demo';

async function main(): Promise<void> {
  const login = await fetch(`${base}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) });
  if (login.status !== 200) throw new Error(`cannot sign in to ${base} as ${email}: ${login.status} ${await login.text()}`);
  const cookie = login.headers.getSetCookie().find((c) => c.startsWith('rs_session='))!.split(';')[0]!;
  const { csrf_token } = (await login.json()) as { csrf_token: string };
  const body: Record<string, unknown> = { to: positionals[0] };
  if (values.from) body.from = values.from;
  if (values.duration) body.duration_s = Number(values.duration);
  const res = await fetch(`${base}/api/v1/test-call`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie, 'x-csrf-token': csrf_token },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== 202) throw new Error(`${res.status}: ${text}`);
  const r = JSON.parse(text) as { to: string; from: string; duration_s: number };
  process.stdout.write(`Ringing ${r.to} from ${r.from}: every registered device rings; answered, a tone plays for ${r.duration_s} s.\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
