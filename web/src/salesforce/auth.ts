/**
 * Signing the softphone in inside Salesforce's iframe, where Ringside's session cookie is a
 * third-party cookie that browsers block. A popup on Ringside's own origin (first-party: the cookie
 * or the sign-in page work there) hands this frame a one-time token by `postMessage`; the frame
 * trades it for a session of its own (`POST /salesforce/session`) and from then on:
 *
 * - sends `Authorization: Bearer <session>` on its requests to `/api/…` (the widget's `fetch`es),
 *   and the session's CSRF token in `<meta name="csrf-token">` (the widget reads it there);
 * - opens the SIP WebSocket with `/sip?token=` (one-minute tokens from `/api/v1/sip-token`, kept
 *   fresh in the background, so JsSIP's reconnections find a live one).
 *
 * The session lives in this frame's sessionStorage (partitioned under Salesforce's site) where the
 * browser allows it, so a reload of the Salesforce tab keeps it — where it does not (storage
 * blocked like cookies), a reload asks to sign in again, which the popup does at once while
 * Ringside's own session lives. Ringside's settings list the frame's session and can revoke it.
 */

export interface FrameSession {
  token: string;
  csrf: string;
  user: { id: string; name: string; email: string };
}

const STORAGE_KEY = 'ringside-sf-session';
const SIP_TOKEN_REFRESH_MS = 30_000;

let current: FrameSession | null = null;
let sipToken: string | null = null;
let sipTimer: ReturnType<typeof setInterval> | undefined;
const nativeFetch = window.fetch.bind(window);

function isOurApi(url: URL): boolean {
  return url.origin === location.origin && url.pathname.startsWith('/api/');
}

/** Installs the bearer header and the WebSocket token; idempotent. */
export function installTokenTransport(): void {
  if ((window as unknown as { __ringsideSfTransport?: boolean }).__ringsideSfTransport) return;
  (window as unknown as { __ringsideSfTransport?: boolean }).__ringsideSfTransport = true;
  window.fetch = (input: RequestInfo | URL, init?: RequestInit) => {
    const raw = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const url = new URL(raw, location.href);
    if (current && isOurApi(url)) {
      const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
      if (!headers.has('authorization')) headers.set('authorization', `Bearer ${current.token}`);
      return nativeFetch(input, { ...init, headers });
    }
    return nativeFetch(input, init);
  };
  const NativeWebSocket = window.WebSocket;
  class TokenWebSocket extends NativeWebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      const u = new URL(String(url), location.href);
      if (u.host === location.host && u.pathname === '/sip' && !u.searchParams.has('token') && sipToken) u.searchParams.set('token', sipToken);
      super(u.href, protocols);
    }
  }
  window.WebSocket = TokenWebSocket;
}

function setCsrfMeta(csrf: string): void {
  let meta = document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]');
  if (!meta) {
    meta = document.createElement('meta');
    meta.name = 'csrf-token';
    document.head.append(meta);
  }
  meta.content = csrf;
}

async function refreshSipToken(): Promise<boolean> {
  try {
    const res = await window.fetch('/api/v1/sip-token', { method: 'POST', headers: { accept: 'application/json', 'x-csrf-token': current?.csrf ?? '' } });
    if (!res.ok) return false;
    sipToken = ((await res.json()) as { token: string }).token;
    return true;
  } catch {
    return false;
  }
}

/** Makes `session` the frame's identity; false when the server no longer knows it. */
export async function useSession(session: FrameSession): Promise<boolean> {
  current = session;
  setCsrfMeta(session.csrf);
  if (!(await refreshSipToken())) {
    forget();
    return false;
  }
  try {
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
  } catch {
    // Storage blocked in third-party frames (as cookies are): a reload asks to sign in again.
  }
  if (sipTimer) clearInterval(sipTimer);
  sipTimer = setInterval(() => void refreshSipToken(), SIP_TOKEN_REFRESH_MS);
  return true;
}

export function storedSession(): FrameSession | null {
  try {
    const s = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? 'null') as FrameSession | null;
    return s && typeof s.token === 'string' && typeof s.csrf === 'string' && s.user?.id ? s : null;
  } catch {
    return null;
  }
}

export function forget(): void {
  current = null;
  sipToken = null;
  if (sipTimer) clearInterval(sipTimer);
  sipTimer = undefined;
  try {
    sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // storage unavailable: nothing kept anyway
  }
}

function randomState(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * Opens the sign-in popup (call from a click: browsers block other popups) and resolves with the
 * frame's new session, or rejects with words for the person.
 */
export function signInWithPopup(timeoutMs = 10 * 60_000): Promise<FrameSession> {
  const state = randomState();
  const popup = window.open(`/salesforce/login?state=${state}`, 'ringside-sf-login', 'popup,width=460,height=640');
  if (!popup) return Promise.reject(new Error('The browser blocked the sign-in window: allow pop-ups for this page and try again.'));
  return new Promise((resolve, reject) => {
    const done = () => {
      window.removeEventListener('message', onMessage);
      clearTimeout(timer);
      clearInterval(closed);
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error('Sign-in took too long: try again.'));
    }, timeoutMs);
    // Closed without signing in: say so rather than wait.
    const closed = setInterval(() => {
      if (popup.closed) {
        setTimeout(() => {
          done();
          reject(new Error('The sign-in window was closed.'));
        }, 1000);
        clearInterval(closed);
      }
    }, 500);
    const onMessage = async (event: MessageEvent) => {
      const data = event.data as { type?: unknown; token?: unknown; state?: unknown } | null;
      if (event.origin !== location.origin || event.source !== popup || data?.type !== 'ringside-sf-handoff' || data.state !== state || typeof data.token !== 'string') return;
      done();
      try {
        const res = await nativeFetch('/salesforce/session', { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify({ token: data.token }) });
        const body = (await res.json().catch(() => null)) as { token?: string; csrf_token?: string; user?: FrameSession['user']; error?: { message?: string } } | null;
        if (!res.ok || !body?.token || !body.csrf_token || !body.user) throw new Error(body?.error?.message ?? `Ringside answered ${res.status}`);
        resolve({ token: body.token, csrf: body.csrf_token, user: body.user });
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    };
    window.addEventListener('message', onMessage);
  });
}

/** In the popup: hand the token to the frame that opened it (same origin only), then close. */
export function handOff(token: string, state: string): void {
  const note = document.getElementById('ringside-sf-handoff-note');
  if (!window.opener) {
    if (note) note.textContent = 'Open the Ringside softphone in Salesforce and sign in from there.';
    return;
  }
  (window.opener as Window).postMessage({ type: 'ringside-sf-handoff', token, state }, location.origin);
  setTimeout(() => window.close(), 300);
}
