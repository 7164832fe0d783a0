/**
 * Signing the softphone in inside Salesforce's iframe, where Ringside's session cookie is a
 * third-party cookie that browsers block. A popup on Ringside's own origin (first-party: the cookie
 * or the sign-in page work there) hands this frame a one-time token by `postMessage`; the frame
 * trades it for a session of its own (`POST /salesforce/session`) and from then on:
 *
 * - the widget's requests to `/api/…` carry `Authorization: Bearer <session>` and the session's
 *   CSRF token (`authHeaders`, given to the widget with `setApiAuth`);
 * - the SIP WebSocket connects with `/sip?token=`, a one-minute token fetched from
 *   `/api/v1/sip-token` before every connection and reconnection (`sipSocketUrl`, given to the
 *   phone as its socket URL provider).
 *
 * The session lives in this frame's sessionStorage (partitioned under Salesforce's site) where the
 * browser allows it, so a reload of the Salesforce tab keeps it — where it does not (storage
 * blocked like cookies), a reload asks to sign in again, which the popup does at once while
 * Ringside's own session lives. Ringside's settings list the frame's session and can revoke it.
 */
import { apiFetch, setApiAuth } from '../phone/api.ts';

export interface FrameSession {
  token: string;
  csrf: string;
  user: { id: string; name: string; email: string };
}

const STORAGE_KEY = 'ringside-sf-session';

let current: FrameSession | null = null;

/** The headers that authenticate the frame's requests (none before sign-in). */
export function authHeaders(): Record<string, string> {
  return current ? { authorization: `Bearer ${current.token}`, 'x-csrf-token': current.csrf } : {};
}

/** The SIP WebSocket's URL with a fresh token; rejects when none can be had (JsSIP retries). */
export async function sipSocketUrl(): Promise<string> {
  const res = await apiFetch('/sip-token', { method: 'POST' });
  if (!res.ok) throw new Error(`sip-token: HTTP ${res.status}`);
  const { token, ws_path } = (await res.json()) as { token: string; ws_path: string };
  const url = new URL(ws_path || '/sip', location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  url.searchParams.set('token', token);
  return url.href;
}

/** Makes `session` the frame's identity; false when the server no longer knows it. */
export async function useSession(session: FrameSession): Promise<boolean> {
  current = session;
  setApiAuth(authHeaders);
  let alive = false;
  try {
    alive = (await apiFetch('/session')).ok;
  } catch {
    alive = false;
  }
  if (!alive) {
    forget();
    return false;
  }
  try {
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
  } catch {
    // Storage blocked in third-party frames (as cookies are): a reload asks to sign in again.
  }
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
  setApiAuth(null);
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
        const res = await fetch('/salesforce/session', { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify({ token: data.token }) });
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
