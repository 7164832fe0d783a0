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
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import tls, { type PeerCertificate } from 'node:tls';
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
  /**
   * The server's own certificate (TLS_CERT), when the URL is its listen address: the name on the
   * certificate is not 127.0.0.1, so the connection is trusted by being exactly that certificate.
   */
  pinnedCert?: string;
}

/**
 * The URL this machine reaches the server at: its BASE_URL, else its listen address. A server
 * listening on every interface (0.0.0.0 or ::) is reached on loopback.
 */
function serverTarget(config: Config): Target {
  if (config.BASE_URL) return { url: config.BASE_URL, source: 'BASE_URL' };
  const host = config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST === '::' ? '::1' : config.HOST;
  const hostPart = isIP(host) === 6 ? `[${host}]` : host;
  const url = `${config.tls ? 'https' : 'http'}://${hostPart}:${config.PORT}`;
  if (!config.tls) return { url, source: 'HOST and PORT' };
  let pinnedCert: string;
  try {
    pinnedCert = readFileSync(config.TLS_CERT!, 'utf8');
    new X509Certificate(pinnedCert);
  } catch (err) {
    throw new UserError(`Cannot use TLS_CERT ${config.TLS_CERT} as the server's certificate: ${(err as Error).message}`);
  }
  return { url, source: 'HOST, PORT and TLS_CERT', pinnedCert };
}

/** TLS options that accept the server's own certificate on its listen address although it names another host (any other certificate must name the address, as usual). */
function pinnedTls(pem: string): https.RequestOptions {
  const fingerprint = new X509Certificate(pem).fingerprint256;
  return {
    // Self-signed or issued by a public CA: either way the chain must check out.
    ca: [...tls.rootCertificates, pem],
    checkServerIdentity: (host: string, cert: PeerCertificate) => (cert.fingerprint256 === fingerprint ? undefined : tls.checkServerIdentity(host, cert)),
  };
}

/**
 * RINGSIDE_URL names a server wherever it runs, so this shell's settings are not its settings and
 * are not read (a stray or invalid one must not get in the way). Otherwise the server's own
 * configuration, read and checked as `npm start` does, says where it listens.
 */
function whereToRing(configFile: string | undefined): { target: Target; demoPassword: string } {
  const env = process.env;
  if (env.RINGSIDE_URL) {
    if (!/^https?:\/\/[^/]/.test(env.RINGSIDE_URL) || !URL.canParse(env.RINGSIDE_URL)) throw new UserError(`RINGSIDE_URL=${JSON.stringify(env.RINGSIDE_URL)}: expected the server's http(s) URL, such as http://127.0.0.1:8080`);
    return { target: { url: env.RINGSIDE_URL.replace(/\/$/, ''), source: 'RINGSIDE_URL' }, demoPassword: env.DEMO_PASSWORD ?? 'ringside-demo' };
  }
  const config = loadConfig({ env, argv: configFile !== undefined ? ['--config', configFile] : [] });
  return { target: serverTarget(config), demoPassword: config.DEMO_PASSWORD };
}

function connectionProblem(target: Target, err: unknown): UserError {
  const e = err as NodeJS.ErrnoException;
  const reason = e.name === 'TimeoutError' ? `no answer within ${REQUEST_TIMEOUT_MS / 1000} s` : (e.code ?? e.message);
  return new UserError(`Cannot reach Ringside at ${target.url} (from ${target.source}): ${reason}; ${howToFix(target, reason)}.`);
}

function howToFix(target: Target, reason: string): string {
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(reason)) {
    if (target.pinnedCert) return 'it does not present the certificate in TLS_CERT: run this command with the TLS_CERT the server was started with, or set RINGSIDE_URL';
    return "its certificate is not trusted for this address: set RINGSIDE_URL to the name on the certificate (or NODE_EXTRA_CA_CERTS to a private CA's file)";
  }
  if (target.source === 'RINGSIDE_URL') return 'is it running there? Correct RINGSIDE_URL, or unset it to use the PORT, BASE_URL or --config FILE the server was started with';
  return 'start it with `npm start`, or run this command with the same PORT, BASE_URL or --config FILE the server was started with, or set RINGSIDE_URL=http(s)://host:port';
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** One JSON POST (node:http(s) rather than fetch, which cannot be told which certificate to trust). */
function post(target: Target, path: string, headers: Record<string, string>, body: unknown): Promise<Reply> {
  const url = new URL(`${target.url}${path}`);
  const payload = JSON.stringify(body);
  const options: https.RequestOptions = {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) },
    timeout: REQUEST_TIMEOUT_MS,
    ...(target.pinnedCert ? pinnedTls(target.pinnedCert) : {}),
  };
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? https : http).request(url, options, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      res.on('error', (err) => reject(connectionProblem(target, err)));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { name: 'TimeoutError' })));
    req.on('error', (err) => reject(connectionProblem(target, err)));
    req.end(payload);
  });
}

async function ring(target: Target, login: { email: string; password: string }, body: Record<string, unknown>): Promise<void> {
  const session = await post(target, '/api/v1/session', {}, login);
  if (session.status !== 200) {
    throw new UserError(`Cannot sign in to ${target.url} as ${login.email}: ${session.status} ${session.text} (set RINGSIDE_EMAIL and RINGSIDE_PASSWORD to an administrator's)`);
  }
  // Over https (TLS_CERT or an https BASE_URL) the session cookie is `__Host-rs_session`.
  const cookie = session.headers['set-cookie']?.find((c) => /^(__Host-)?rs_session=/.test(c))?.split(';')[0];
  if (!cookie) throw new UserError(`${target.url} signed in but set no Ringside session: is it a Ringside server?`);
  const { csrf_token } = JSON.parse(session.text) as { csrf_token: string };
  const res = await post(target, '/api/v1/test-call', { cookie, 'x-csrf-token': csrf_token }, body);
  if (res.status !== 202) throw new UserError(`${res.status}: ${res.text}`);
  const r = JSON.parse(res.text) as { to: string; from: string; duration_s: number };
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
