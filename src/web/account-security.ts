/**
 * What ends when credentials may be compromised, in one place for the pages and the API: web
 * sessions (and with them their SIP WebSockets, see SipGateway), the device password, and the
 * registrations made with it. A stolen cookie or device password does not outlive a password
 * change, a "sign out everywhere", or an administrator disabling the account. And a stolen cookie
 * alone cannot get a new device password: that needs the owner (confirmOwner).
 */
import type { FastifyRequest } from 'fastify';
import { AppError, ValidationError } from '../shared/errors.ts';
import type { Session } from '../store/index.ts';
import type { ThrottleVerdict, UserView } from '../users/index.ts';
import type { WebDeps } from './index.ts';

type Deps = Pick<WebDeps, 'users' | 'sessions' | 'sip'>;
type OwnerDeps = Pick<WebDeps, 'users' | 'sessions' | 'throttle' | 'config'>;

// ------------------------------------------------------------------ is it the owner?

/** A sign-in with the provider this recent stands in for the password: the provider just checked who it is. */
export const RECENT_SIGN_IN_MINUTES = 10;

/**
 * How the person using a session shows that they are the account's owner, not someone holding
 * its cookie: the login password for a session signed in with one; for a single sign-on session
 * (the user may have no password they know), a sign-in with the provider in the last minutes.
 */
export type OwnerCheck =
  | { by: 'password' }
  | {
      by: 'provider';
      providerName: string;
      recent: boolean;
      /** Why it is not recent, to follow "sign in again with …: ". */
      staleBecause: string;
      signInAgainUrl: string;
    };

/** `returnTo`: where signing in again with the provider comes back to. */
export async function ownerCheckOf(deps: OwnerDeps, session: Session, returnTo: string): Promise<OwnerCheck> {
  const { providerId, ageMs } = await deps.sessions.signInOf(session);
  const provider = providerId ? deps.config.oidcProviders.find((p) => p.id === providerId) : undefined;
  // A provider no longer configured cannot be asked again: the password it is.
  if (!provider) return { by: 'password' };
  return {
    by: 'provider',
    providerName: provider.name,
    // A provider that did not say when it last asked for the password may not have asked at all.
    recent: ageMs !== undefined && ageMs < RECENT_SIGN_IN_MINUTES * 60_000,
    staleBecause: ageMs === undefined ? `${provider.name} did not say when you last entered your password` : `your sign-in is more than ${RECENT_SIGN_IN_MINUTES} minutes old`,
    // `reauth`: the provider is asked to check the user afresh, even with its session alive.
    signInAgainUrl: `/auth/oidc/start?${new URLSearchParams({ provider: provider.id, next: returnTo, reauth: '1' })}`,
  };
}

/**
 * Throws unless the owner is present (see OwnerCheck): a wrong password is a field error on
 * `field`, counted by the login throttle like a failed sign-in; an old single sign-on session gets
 * a 403 whose `sign_in_url` signs in again and comes back to `returnTo`.
 */
export async function confirmOwner(deps: OwnerDeps, request: FastifyRequest, password: string, field: string, returnTo: string): Promise<void> {
  const { user, session } = request.auth!;
  const check = await ownerCheckOf(deps, session, returnTo);
  if (check.by === 'provider') {
    if (check.recent) return;
    throw new AppError(
      403,
      'sign_in_again',
      `To do this, sign in again with ${check.providerName}: ${check.staleBecause}.`,
      undefined,
      { sign_in_url: check.signInAgainUrl },
    );
  }
  await countedPasswordAttempt(deps, request, field, async () => {
    if (!(await deps.users.isPassword(user, password))) throw new ValidationError(field, 'This is not your password.');
  });
}

/**
 * Runs `attempt` (which checks the user's login password and throws when it is wrong) under the
 * login throttle: a stolen session cannot guess the password here faster than at the login page.
 * The attempt is counted before the hash is awaited, so concurrent guesses all meet the limit; a
 * right password takes it back.
 */
async function countedPasswordAttempt<T>(deps: OwnerDeps, request: FastifyRequest, field: string, attempt: () => Promise<T>): Promise<T> {
  const { email } = request.auth!.user;
  const reserved = deps.throttle.reserve(email, request.ip);
  if (!reserved.allowed) throw tooManyAttempts(reserved, field);
  const result = await attempt();
  reserved.attempt.succeeded();
  return result;
}

function tooManyAttempts(verdict: Extract<ThrottleVerdict, { allowed: false }>, field: string): AppError {
  const minutes = Math.ceil(verdict.retryAfterS / 60);
  const wait = minutes <= 1 ? 'a minute' : `${minutes} minutes`;
  return new AppError(429, 'too_many_attempts', `Too many wrong passwords. Try again in ${wait}.`, field, { retry_after_s: verdict.retryAfterS });
}

// ------------------------------------------------------------------ what ends

/** Devices that signed in with the old device password stop ringing now (not at their next refresh). */
async function dropDeviceRegistrations(deps: Deps, userId: string, options: { keepBrowsers: boolean }): Promise<void> {
  deps.sip.users.invalidate();
  await deps.sip.location.removeAll(userId, options);
}

/**
 * A new generated device password, returned to be shown once; phones using the old one stop
 * ringing. Only for the owner (confirmOwner): with a stolen cookie alone, nobody gets a password
 * to register a phone as the user.
 */
export async function resetDevicePassword(deps: Deps & OwnerDeps, request: FastifyRequest, loginPassword: string, field: string, returnTo: string): Promise<string> {
  await confirmOwner(deps, request, loginPassword, field, returnTo);
  const userId = request.auth!.user.id;
  const password = await deps.users.resetDevicePassword(userId);
  await dropDeviceRegistrations(deps, userId, { keepBrowsers: true });
  return password;
}

/**
 * A login-password change: the device password is rotated and every other session ends. The
 * current password is checked under the login throttle (it would otherwise be a guessing oracle).
 */
export async function changeLoginPassword(deps: Deps & OwnerDeps, request: FastifyRequest, current: string, next: string): Promise<void> {
  const { user, session } = request.auth!;
  await countedPasswordAttempt(deps, request, 'current_password', () => deps.users.changePassword(user.id, current, next));
  const others = (await deps.sessions.listOf(user.id)).map((s) => s.id).filter((id) => id !== session.id);
  for (const id of others) await deps.sessions.revoke(id);
  await dropDeviceRegistrations(deps, user.id, { keepBrowsers: true });
}

/** "Sign out everywhere": every session, every SIP WebSocket and registration, and the device password. */
export async function signOutEverywhere(deps: Deps, userId: string): Promise<number> {
  const revoked = await deps.sessions.revokeAllOf(userId);
  await deps.users.rotateDevicePassword(userId);
  await dropDeviceRegistrations(deps, userId, { keepBrowsers: false });
  return revoked;
}

/**
 * Offboarding: the account is disabled (no sign-in, no registration, no call), its sessions and
 * SIP WebSockets end, its registrations go, its calls are hung up and its device password is
 * replaced, all at once.
 */
export async function disableUser(deps: Deps, userId: string): Promise<UserView> {
  const view = await deps.users.setDisabled(userId, true);
  await deps.sessions.revokeAllOf(userId);
  await dropDeviceRegistrations(deps, userId, { keepBrowsers: false });
  // Calls in progress too: a desk phone's call would otherwise outlive the account.
  deps.sip.endCallsOf(userId);
  return view;
}

/** Enabled again: the user signs in with their password and resets the device password to see a new one. */
export async function enableUser(deps: Deps, userId: string): Promise<UserView> {
  const view = await deps.users.setDisabled(userId, false);
  deps.sip.users.invalidate();
  return view;
}
