/**
 * npm run test-call -- alice@example.com [--from +14155550134] [--duration 20] [--config FILE]
 *
 * Rings a user of the running Ringside from its built-in test caller: every device of theirs
 * rings; answered, it plays a tone and hangs up after the duration.
 *
 * It finds the server the way the server found its own settings: the same HOST, PORT, BASE_URL
 * and TLS_CERT from the environment and from `--config FILE` / RINGSIDE_CONFIG (read by the same
 * loadConfig), so run it with what you ran `npm start` with. RINGSIDE_URL, when set, wins (and
 * then the local settings are not read).
 * Signs in as an administrator: RINGSIDE_EMAIL (default admin@example.com), RINGSIDE_PASSWORD
 * (default the demo users' password, DEMO_PASSWORD, "ringside-demo" unless configured).
 */
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type Config } from '../src/config/index.ts';

const USAGE = 'usage: npm run test-call -- <user email> [--from +E164] [--duration seconds] [--config FILE]\n';
/** A server that accepts the connection but never answers must not hang the command. */
const REQUEST_TIMEOUT_MS = 15_000;

/** A problem the user can fix, told in one line without a stack trace. */
class UserError extends Error {}

interface Target {
  url: string;
  /** Which setting the URL came from, so the user knows what to change. */
  source: string;
}

/**
 * The URL this machine reaches the server at: its BASE_URL, else its listen address. A server
 * listening on every interface (0.0.0.0 or ::) is reached on loopback.
 */
function serverTarget(config: Config): Target {
  if (config.BASE_URL) return { url: config.BASE_URL, source: 'BASE_URL' };
  const host = config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST === '::' ? '::1' : config.HOST;
  const hostPart = isIP(host) === 6 ? `[${host}]` : host;
  return { url: `${config.tls ? 'https' : 'http'}://${hostPart}:${config.PORT}`, source: config.tls ? 'HOST, PORT and TLS_CERT' : 'HOST and PORT' };
}

/**
 * RINGSIDE_URL names a server wherever it runs, so this shell's settings are not its settings and
 * are not read (a stray or invalid one must not get in the way). Otherwise the server's own
 * configuration, read and checked as `npm start` does, says where it listens.
 */
function whereToRing(configFile: string | undefined): { target: Target; demoPassword: string } {
  const env = process.env;
  if (env.RINGSIDE_URL) return { target: { url: env.RINGSIDE_URL.replace(/\/$/, ''), source: 'RINGSIDE_URL' }, demoPassword: env.DEMO_PASSWORD ?? 'ringside-demo' };
  const config = loadConfig({ env, argv: configFile !== undefined ? ['--config', configFile] : [] });
  return { target: serverTarget(config), demoPassword: config.DEMO_PASSWORD };
}

function connectionProblem(target: Target, err: unknown): UserError {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const reason = (err as Error).name === 'TimeoutError' ? `no answer within ${REQUEST_TIMEOUT_MS / 1000} s` : (cause?.code ?? cause?.message ?? String(err));
  const hint = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(reason)
    ? "its certificate is not trusted for this address: set RINGSIDE_URL to the name on the certificate (or NODE_EXTRA_CA_CERTS to a private CA's file)"
    : target.source === 'RINGSIDE_URL'
      ? 'is it running there? Correct RINGSIDE_URL, or unset it to use the PORT, BASE_URL or --config FILE the server was started with'
      : 'start it with `npm start`, or run this command with the same PORT, BASE_URL or --config FILE the server was started with, or set RINGSIDE_URL=http(s)://host:port';
  return new UserError(`Cannot reach Ringside at ${target.url} (from ${target.source}): ${reason}; ${hint}.`);
}

async function request(target: Target, path: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(`${target.url}${path}`, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  } catch (err) {
    throw connectionProblem(target, err);
  }
}

async function ring(target: Target, login: { email: string; password: string }, body: Record<string, unknown>): Promise<void> {
  const session = await request(target, '/api/v1/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(login) });
  if (session.status !== 200) {
    throw new UserError(`Cannot sign in to ${target.url} as ${login.email}: ${session.status} ${await session.text()} (set RINGSIDE_EMAIL and RINGSIDE_PASSWORD to an administrator's)`);
  }
  const cookie = session.headers.getSetCookie().find((c) => c.startsWith('rs_session='))?.split(';')[0];
  if (!cookie) throw new UserError(`${target.url} signed in but set no Ringside session: is it a Ringside server?`);
  const { csrf_token } = (await session.json()) as { csrf_token: string };
  const res = await request(target, '/api/v1/test-call', {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie, 'x-csrf-token': csrf_token },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== 202) throw new UserError(`${res.status}: ${text}`);
  const r = JSON.parse(text) as { to: string; from: string; duration_s: number };
  process.stdout.write(`Ringing ${r.to} from ${r.from}: every registered device rings; answered, a tone plays for ${r.duration_s} s.\n`);
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { from: { type: 'string' }, duration: { type: 'string' }, config: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help || positionals.length !== 1) {
    process.stdout.write(USAGE);
    process.exit(values.help ? 0 : 2);
  }
  const { target, demoPassword } = whereToRing(values.config);
  const login = { email: process.env.RINGSIDE_EMAIL ?? 'admin@example.com', password: process.env.RINGSIDE_PASSWORD ?? demoPassword };
  const body: Record<string, unknown> = { to: positionals[0] };
  if (values.from) body.from = values.from;
  if (values.duration) body.duration_s = Number(values.duration);
  await ring(target, login, body);
}

main().catch((err: unknown) => {
  // A bad setting or argument stops here the way `npm start` stops on one (exit 2); anything else is exit 1.
  const badArgument = String((err as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS');
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n${badArgument ? USAGE : ''}`);
  process.exit(err instanceof ConfigError || badArgument ? 2 : 1);
});
