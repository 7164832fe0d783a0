/**
 * The widget's REST calls (`/api/v1/…`): same origin, the session cookie, and the page's CSRF
 * token (`<meta name="csrf-token">`). Errors carry the server's own message.
 *
 * Where no cookie reaches the page (the Salesforce softphone's third-party frame), the page sets
 * an auth hook (`setApiAuth`): its headers — a bearer token and that session's CSRF token — go on
 * every request the widget makes to `/api/…`.
 */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Headers that authenticate a request, e.g. `{ authorization: 'Bearer …', 'x-csrf-token': … }`. */
export type ApiAuthHook = () => Record<string, string>;

let authHook: ApiAuthHook | null = null;

/** Authenticates the widget's requests with these headers from now on (null: the cookie again). */
export function setApiAuth(hook: ApiAuthHook | null): void {
  authHook = hook;
}

function csrfToken(): string {
  return document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]')?.content ?? '';
}

/**
 * `fetch` of `/api/v1${path}` as the signed-in user: the cookie, the CSRF token on writes, and the
 * auth hook's headers (which win). Network errors reject as `fetch` does.
 */
export function apiFetch(path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Response> {
  const method = init.method ?? 'GET';
  const headers: Record<string, string> = { accept: 'application/json', ...init.headers };
  if (method !== 'GET' && method !== 'HEAD') headers['x-csrf-token'] = csrfToken();
  Object.assign(headers, authHook?.() ?? {});
  return fetch(`/api/v1${path}`, { method, credentials: 'same-origin', headers, ...(init.body !== undefined ? { body: init.body } : {}) });
}

export async function api<T = unknown>(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await apiFetch(path, { method, ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}) });
  } catch {
    throw new ApiError(0, 'Ringside cannot be reached: check the connection and try again');
  }
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // not JSON
  }
  if (!res.ok) {
    const err = (json as { error?: { message?: string } } | null)?.error;
    throw new ApiError(res.status, err?.message ?? `The server answered ${res.status}`);
  }
  return json as T;
}

/** One row of `GET /api/v1/calls/recent`. */
export interface RecentCall {
  call_id: string;
  direction: 'inbound' | 'outbound';
  number: string | null;
  number_display: string | null;
  name: string | null;
  started_at: string;
  duration_s: number;
  /** An incoming call the user neither answered nor declined. */
  missed: boolean;
  /** What the call was for the user (as its CRM activity says); null while it goes on. */
  disposition: 'answered' | 'no-answer' | 'busy' | 'declined' | 'answered-elsewhere' | 'cancelled' | 'failed' | 'interrupted' | null;
  state: string;
  record: { type: string; id: string } | null;
  /** The wrap-up notes, editable from Recent calls. */
  notes: string | null;
}

/** A call's quality as the browser measured it (getStats). */
export interface CallQuality {
  jitter_ms: number | null;
  loss_pct: number | null;
  rtt_ms: number | null;
}

/** Jitter, loss and round-trip time of a call's audio from its peer connection. */
export async function measureQuality(pc: RTCPeerConnection): Promise<CallQuality | null> {
  const stats = await pc.getStats();
  const m: { jitter: number | null; lost: number; received: number; rtt: number | null; pairRtt: number | null } = { jitter: null, lost: 0, received: 0, rtt: null, pairRtt: null };
  stats.forEach((s: Record<string, unknown>) => {
    if (s.type === 'inbound-rtp' && s.kind === 'audio') {
      if (typeof s.jitter === 'number') m.jitter = Math.max(m.jitter ?? 0, s.jitter * 1000);
      m.lost += typeof s.packetsLost === 'number' ? Math.max(0, s.packetsLost) : 0;
      m.received += typeof s.packetsReceived === 'number' ? s.packetsReceived : 0;
    }
    if (s.type === 'remote-inbound-rtp' && s.kind === 'audio' && typeof s.roundTripTime === 'number') m.rtt = s.roundTripTime * 1000;
    if (s.type === 'candidate-pair' && s.nominated && typeof s.currentRoundTripTime === 'number') m.pairRtt = s.currentRoundTripTime * 1000;
  });
  if (m.received === 0 && m.jitter === null) return null;
  const round = (n: number | null) => (n === null ? null : Math.round(n * 10) / 10);
  return {
    jitter_ms: round(m.jitter),
    loss_pct: m.received + m.lost > 0 ? round(Math.min(100, (m.lost / (m.received + m.lost)) * 100)) : null,
    rtt_ms: round(m.rtt ?? m.pairRtt),
  };
}
