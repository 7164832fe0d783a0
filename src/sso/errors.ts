/**
 * A single sign-on that did not work. `message` is for the person in front of the browser: it
 * says what happened and what to do, and never which Ringside users exist; `detail` (what the
 * library or provider said) goes to the log only.
 */
export type SsoErrorCode =
  | 'unknown_provider'
  | 'provider_unreachable'
  | 'not_started'
  | 'state_mismatch'
  | 'provider_error'
  | 'invalid_response'
  // Asked to check the user afresh (Settings' "Sign in again"), the provider did not.
  | 'not_reauthenticated'
  | 'no_email'
  | 'email_not_verified'
  | 'domain_not_allowed'
  | 'not_allowed';

export class SsoError extends Error {
  constructor(
    readonly status: number,
    readonly code: SsoErrorCode,
    message: string,
    readonly detail?: string,
  ) {
    super(message);
    this.name = 'SsoError';
  }
}
