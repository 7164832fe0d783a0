/**
 * Single sign-on: OpenID Connect identity providers (Okta, Entra ID, Google, Keycloak, Salesforce
 * …) sign users in to Ringside; the first sign-in of an allowed email creates or links the user.
 * The session it opens is an ordinary web session — the widget, the API and calling all accept it.
 */
export { SingleSignOn, CALLBACK_PATH, type SingleSignOnOptions, type SsoSignedIn, type SsoLog } from './single-sign-on.ts';
export { SsoError, type SsoErrorCode } from './errors.ts';
export { roleOf, type IdentityClaims } from './accounts.ts';
