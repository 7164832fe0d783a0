/**
 * What ends when credentials may be compromised, in one place for the pages and the API: web
 * sessions (and with them their SIP WebSockets, see SipGateway), the device password, and the
 * registrations made with it. A stolen cookie or device password does not outlive a password
 * change, a "sign out everywhere", or an administrator disabling the account.
 */
import type { UserView } from '../users/index.ts';
import type { WebDeps } from './index.ts';

type Deps = Pick<WebDeps, 'users' | 'sessions' | 'sip'>;

/** Devices that signed in with the old device password stop ringing now (not at their next refresh). */
async function dropDeviceRegistrations(deps: Deps, userId: string, options: { keepBrowsers: boolean }): Promise<void> {
  deps.sip.users.invalidate();
  await deps.sip.location.removeAll(userId, options);
}

/** A new generated device password, returned to be shown once; phones using the old one stop ringing. */
export async function resetDevicePassword(deps: Deps, userId: string): Promise<string> {
  const password = await deps.users.resetDevicePassword(userId);
  await dropDeviceRegistrations(deps, userId, { keepBrowsers: true });
  return password;
}

/** A login-password change: the device password is rotated and every other session ends. */
export async function changeLoginPassword(deps: Deps, userId: string, currentSessionId: string, current: string, next: string): Promise<void> {
  await deps.users.changePassword(userId, current, next);
  const others = (await deps.sessions.listOf(userId)).map((s) => s.id).filter((id) => id !== currentSessionId);
  for (const id of others) await deps.sessions.revoke(id);
  await dropDeviceRegistrations(deps, userId, { keepBrowsers: true });
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
 * SIP WebSockets end, its registrations go and its device password is replaced, all at once.
 */
export async function disableUser(deps: Deps, userId: string): Promise<UserView> {
  const view = await deps.users.setDisabled(userId, true);
  await deps.sessions.revokeAllOf(userId);
  await dropDeviceRegistrations(deps, userId, { keepBrowsers: false });
  return view;
}

/** Enabled again: the user signs in with their password and resets the device password to see a new one. */
export async function enableUser(deps: Deps, userId: string): Promise<UserView> {
  const view = await deps.users.setDisabled(userId, false);
  deps.sip.users.invalidate();
  return view;
}
