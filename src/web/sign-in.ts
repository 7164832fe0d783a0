/**
 * Password sign-in, shared by the login page and `POST /api/v1/session`: rate limits first (per
 * address, per account), one message for every wrong-credentials case so nobody learns which
 * accounts exist, then a new session.
 */
import type { FastifyRequest } from 'fastify';
import { AppError } from '../shared/errors.ts';
import type { User } from '../store/index.ts';
import type { LoginThrottle, SessionStore, UserDirectory } from '../users/index.ts';

export interface SignInDeps {
  users: UserDirectory;
  sessions: SessionStore;
  throttle: LoginThrottle;
  config: { PASSWORD_LOGIN: boolean };
}

export const PASSWORD_LOGIN_OFF = 'Sign-in with a password is turned off here. Sign in with your organisation’s account instead.';

export const WRONG_CREDENTIALS = 'The email or password is not right.';

export async function signIn(
  deps: SignInDeps,
  request: FastifyRequest,
  email: string,
  password: string,
): Promise<{ token: string; user: User; csrf: string }> {
  if (!deps.config.PASSWORD_LOGIN) throw new AppError(403, 'password_login_off', PASSWORD_LOGIN_OFF);
  const account = email.trim().toLowerCase();
  // Counted before the password hash is awaited: concurrent guesses all meet the limit.
  const verdict = deps.throttle.reserve(account, request.ip);
  if (!verdict.allowed) {
    const minutes = Math.ceil(verdict.retryAfterS / 60);
    const wait = minutes <= 1 ? 'a minute' : `${minutes} minutes`;
    const message =
      verdict.reason === 'account'
        ? `Too many failed sign-in attempts for this account. Try again in ${wait}.`
        : `Too many failed sign-in attempts from your network. Try again in ${wait}.`;
    throw new AppError(429, 'too_many_attempts', message, undefined, { retry_after_s: verdict.retryAfterS });
  }
  const user = account && password ? await deps.users.authenticate(account, password) : undefined;
  if (!user) {
    request.log.info({ event: 'login_failed', ip: request.ip }, 'sign-in failed');
    throw new AppError(401, 'wrong_credentials', WRONG_CREDENTIALS);
  }
  verdict.attempt.succeeded();
  const ua = request.headers['user-agent'];
  const { token, session } = await deps.sessions.create(user.id, { ip: request.ip, ...(ua ? { userAgent: ua } : {}) });
  request.log.info({ event: 'login', userId: user.id }, 'signed in');
  return { token, user, csrf: session.csrf_token };
}
