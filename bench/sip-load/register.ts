/**
 * A minimal SIP REGISTER client over UDP with digest authentication (RFC 3261 §10, RFC 2617 MD5,
 * with or without qop=auth), for the load benchmark: it registers a Contact that points at some
 * other process (a SIPp UAS), so the server under test forks calls there.
 *
 * Self-contained on purpose: the benchmark measures the server's SIP stack and must not borrow it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';

export interface RegisterOptions {
  /** The registrar (server under test). */
  server: { host: string; port: number };
  user: string;
  password: string;
  /** SIP domain of the address of record (From/To host), e.g. `127.0.0.1`. */
  domain: string;
  /** Where calls for the user should go: a UAS listening on UDP. */
  contact: { host: string; port: number };
  /** Requested binding lifetime in seconds. */
  expires: number;
  /** Re-register before the binding expires (at half its granted lifetime). Default true. */
  refresh?: boolean;
  /** Called when a refresh fails (the benchmark keeps running; its calls will show it). */
  onRefreshError?: (error: Error) => void;
}

export interface Registration {
  /** Lifetime the registrar granted, in seconds. */
  expires: number;
  /** Removes the binding (Expires: 0) and closes the socket. */
  unregister(): Promise<void>;
  /** Closes the socket without un-registering. */
  close(): void;
}

interface SipResponse {
  status: number;
  reason: string;
  headers: Map<string, string[]>;
}

const md5 = (s: string) => createHash('md5').update(s).digest('hex');
const token = () => randomBytes(8).toString('hex');

/** Registers, answering one digest challenge. Rejects on a final error response or after ~8 s. */
export async function register(options: RegisterOptions): Promise<Registration> {
  const socket = createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  const localPort = socket.address().port;
  const callId = `${token()}@127.0.0.1`;
  const fromTag = token();
  let cseq = 0;
  let refreshTimer: NodeJS.Timeout | undefined;
  let closed = false;

  const requestUri = `sip:${options.server.host}:${options.server.port}`;

  /** One REGISTER transaction, plus one retry with credentials if challenged. */
  async function registerOnce(expires: number): Promise<number> {
    let authorization: string | undefined;
    for (let attempt = 0; attempt < 2; attempt++) {
      const response = await transaction(expires, authorization);
      if (response.status === 200) return grantedExpires(response, expires);
      if ((response.status === 401 || response.status === 407) && attempt === 0) {
        const header = response.status === 401 ? 'www-authenticate' : 'proxy-authenticate';
        const challenge = response.headers.get(header)?.[0];
        if (!challenge) throw new Error(`REGISTER ${options.user}: ${response.status} without ${header}`);
        authorization = `${response.status === 401 ? 'Authorization' : 'Proxy-Authorization'}: ${digest(challenge, requestUri, options)}`;
        continue;
      }
      throw new Error(`REGISTER ${options.user} → ${response.status} ${response.reason}`);
    }
    throw new Error(`REGISTER ${options.user}: challenged again after sending credentials`);
  }

  /** Sends one REGISTER, retransmitting like RFC 3261 timer E (500 ms doubling, up to 8 s). */
  function transaction(expires: number, authorization: string | undefined): Promise<SipResponse> {
    cseq += 1;
    const branch = `z9hG4bK${token()}`;
    const message = Buffer.from(
      [
        `REGISTER ${requestUri} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${localPort};branch=${branch};rport`,
        'Max-Forwards: 70',
        `From: <sip:${options.user}@${options.domain}>;tag=${fromTag}`,
        `To: <sip:${options.user}@${options.domain}>`,
        `Call-ID: ${callId}`,
        `CSeq: ${cseq} REGISTER`,
        `Contact: <sip:${options.user}@${options.contact.host}:${options.contact.port};transport=udp>`,
        `Expires: ${expires}`,
        ...(authorization ? [authorization] : []),
        'User-Agent: ringside-bench',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
    );
    const sentCseq = cseq;
    return new Promise((resolve, reject) => {
      let interval = 500;
      let retransmit: NodeJS.Timeout;
      const send = () => socket.send(message, options.server.port, options.server.host);
      const schedule = () => {
        retransmit = setTimeout(() => {
          send();
          interval = Math.min(interval * 2, 4_000);
          schedule();
        }, interval);
      };
      const giveUp = setTimeout(() => {
        cleanup();
        reject(new Error(`REGISTER ${options.user}: no final response from ${options.server.host}:${options.server.port} within 8 s`));
      }, 8_000);
      const onMessage = (data: Buffer) => {
        const response = parseResponse(data.toString('utf8'));
        if (!response || response.status < 200) return;
        if (response.headers.get('call-id')?.[0] !== callId) return;
        if (!new RegExp(`^${sentCseq}\\s+REGISTER$`, 'i').test(response.headers.get('cseq')?.[0] ?? '')) return;
        cleanup();
        resolve(response);
      };
      const cleanup = () => {
        clearTimeout(retransmit);
        clearTimeout(giveUp);
        socket.off('message', onMessage);
      };
      socket.on('message', onMessage);
      send();
      schedule();
    });
  }

  function scheduleRefresh(granted: number): void {
    if (options.refresh === false || closed) return;
    refreshTimer = setTimeout(() => {
      registerOnce(options.expires).then(scheduleRefresh, (error: Error) => options.onRefreshError?.(error));
    }, Math.max(1, granted / 2) * 1000);
    // A refresh must never keep the benchmark alive on its own.
    refreshTimer.unref();
  }

  try {
    const granted = await registerOnce(options.expires);
    scheduleRefresh(granted);
    return {
      expires: granted,
      async unregister() {
        clearTimeout(refreshTimer);
        try {
          await registerOnce(0);
        } finally {
          close(socket);
        }
      },
      close() {
        clearTimeout(refreshTimer);
        close(socket);
      },
    };
  } catch (error) {
    close(socket);
    throw error;
  }

  function close(s: Socket): void {
    if (closed) return;
    closed = true;
    s.close();
  }
}

/** Expires the registrar granted for our Contact (its `expires` param, else the Expires header). */
function grantedExpires(response: SipResponse, requested: number): number {
  for (const contact of response.headers.get('contact') ?? []) {
    const m = /;\s*expires\s*=\s*(\d+)/i.exec(contact);
    if (m) return Number(m[1]);
  }
  const header = response.headers.get('expires')?.[0];
  return header !== undefined && /^\d+$/.test(header.trim()) ? Number(header) : requested;
}

/** The credentials line for a `Digest …` challenge (MD5; qop=auth when offered). */
export function digest(
  challenge: string,
  uri: string,
  credentials: { user: string; password: string },
  method = 'REGISTER',
  cnonce = token(),
): string {
  const params = parseAuthParams(challenge.replace(/^\s*Digest\s+/i, ''));
  const realm = params.get('realm') ?? '';
  const nonce = params.get('nonce') ?? '';
  const algorithm = params.get('algorithm');
  if (algorithm && algorithm.toUpperCase() !== 'MD5') throw new Error(`unsupported digest algorithm ${algorithm}`);
  const qop = params
    .get('qop')
    ?.split(',')
    .map((q) => q.trim())
    .includes('auth')
    ? 'auth'
    : undefined;
  const ha1 = md5(`${credentials.user}:${realm}:${credentials.password}`);
  const ha2 = md5(`${method}:${uri}`);
  const nc = '00000001';
  const response = qop ? md5(`${ha1}:${nonce}:${nc}:${cnonce}:${qop}:${ha2}`) : md5(`${ha1}:${nonce}:${ha2}`);
  const fields = [
    `username="${credentials.user}"`,
    `realm="${realm}"`,
    `nonce="${nonce}"`,
    `uri="${uri}"`,
    `response="${response}"`,
    'algorithm=MD5',
    ...(qop ? [`qop=${qop}`, `nc=${nc}`, `cnonce="${cnonce}"`] : []),
    ...(params.has('opaque') ? [`opaque="${params.get('opaque')}"`] : []),
  ];
  return `Digest ${fields.join(', ')}`;
}

/** `realm="x", nonce="y", qop="auth,auth-int", algorithm=MD5` → map (names lower-cased). */
function parseAuthParams(text: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const m of text.matchAll(/([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g)) {
    params.set(m[1]!.toLowerCase(), m[2] ?? m[3] ?? '');
  }
  return params;
}

const COMPACT: Record<string, string> = { i: 'call-id', m: 'contact', v: 'via', f: 'from', t: 'to', l: 'content-length' };

function parseResponse(text: string): SipResponse | undefined {
  const head = text.split('\r\n\r\n', 1)[0] ?? '';
  const lines = head.split('\r\n');
  const m = /^SIP\/2\.0\s+(\d{3})\s*(.*)$/.exec(lines[0] ?? '');
  if (!m) return undefined;
  const headers = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const raw = line.slice(0, colon).trim().toLowerCase();
    const name = COMPACT[raw] ?? raw;
    const value = line.slice(colon + 1).trim();
    // Contact may list several bindings in one header.
    const values = name === 'contact' ? value.split(/,(?=\s*(?:"[^"]*"\s*)?<)/) : [value];
    headers.set(name, [...(headers.get(name) ?? []), ...values.map((v) => v.trim())]);
  }
  return { status: Number(m[1]), reason: m[2] ?? '', headers };
}

/**
 * Waits until a SIP server answers an OPTIONS over UDP with any response (even 404: it is up),
 * asking every 200 ms until the timeout.
 */
export async function waitForSipServer(server: { host: string; port: number }, timeoutMs: number): Promise<void> {
  const socket = createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  const localPort = socket.address().port;
  const callId = `${token()}@127.0.0.1`;
  let attempt = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      const send = () => {
        attempt += 1;
        const message = [
          `OPTIONS sip:${server.host}:${server.port} SIP/2.0`,
          `Via: SIP/2.0/UDP 127.0.0.1:${localPort};branch=z9hG4bK${token()};rport`,
          'Max-Forwards: 70',
          `From: <sip:ping@127.0.0.1>;tag=${token()}`,
          `To: <sip:${server.host}:${server.port}>`,
          `Call-ID: ${callId}`,
          `CSeq: ${attempt} OPTIONS`,
          'User-Agent: ringside-bench',
          'Content-Length: 0',
          '',
          '',
        ].join('\r\n');
        socket.send(message, server.port, server.host);
      };
      const timer = setInterval(send, 200);
      const deadline = setTimeout(() => {
        clearInterval(timer);
        reject(new Error(`no SIP answer from ${server.host}:${server.port} within ${timeoutMs} ms`));
      }, timeoutMs);
      // Nothing listening yet: ICMP port unreachable surfaces as a socket error. Keep asking.
      socket.on('error', () => undefined);
      socket.on('message', (data) => {
        if (!parseResponse(data.toString('utf8'))) return;
        clearInterval(timer);
        clearTimeout(deadline);
        resolve();
      });
      send();
    });
  } finally {
    socket.close();
  }
}
