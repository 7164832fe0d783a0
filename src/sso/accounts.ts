/**
 * From a verified ID token to a Ringside user: the provider account already linked (issuer +
 * subject), else the user with the same verified email (linked now), else a new user (just-in-time
 * provisioning) — all in one transaction, so a refusal leaves nothing behind.
 */
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { OidcProviderConfig } from '../config/oidc.ts';
import { nowIso, type Database, type Store, type User } from '../store/index.ts';
import type { UserDirectory } from '../users/index.ts';
import { SsoError } from './errors.ts';

/** The ID-token claims Ringside reads. */
export interface IdentityClaims {
  iss: string;
  sub: string;
  email?: unknown;
  email_verified?: unknown;
  name?: unknown;
  given_name?: unknown;
  family_name?: unknown;
  [claim: string]: unknown;
}

export class SsoAccounts {
  constructor(
    private readonly store: Store,
    private readonly users: UserDirectory,
    private readonly clock: () => number = Date.now,
  ) {}

  /** The user these claims sign in as; throws SsoError (and writes nothing) when they may not. */
  async userFor(provider: OidcProviderConfig, claims: IdentityClaims): Promise<{ user: User; created: boolean }> {
    const email = typeof claims.email === 'string' ? claims.email.trim().toLowerCase() : '';
    if (!/^[^\s@]+@[^\s@]+$/.test(email) || email.length > 254) {
      throw new SsoError(
        403,
        'no_email',
        `${provider.name} did not give Ringside your email address, so it cannot tell who you are. Your administrator can release it (the "email" scope).`,
      );
    }
    const domain = email.slice(email.lastIndexOf('@') + 1);
    if (!provider.allowedDomains.includes('*') && !provider.allowedDomains.includes(domain)) {
      throw new SsoError(403, 'domain_not_allowed', `Accounts of ${domain} cannot sign in to Ringside with ${provider.name}. Sign in with your work account.`);
    }
    // Entra ID sends no email_verified; its optional claim xms_edov says the domain's owner
    // verified it. Only Entra ID's word counts: another provider may let users or tenants set
    // arbitrary claims, and an unverified email would then take over the local account with it.
    const entraVerified = isEntraIdIssuer(claims.iss) && (claims.xms_edov === true || claims.xms_edov === 'true');
    const verified = claims.email_verified === true || claims.email_verified === 'true' || entraVerified || provider.trustEmail;
    if (!verified) {
      throw new SsoError(403, 'email_not_verified', `${provider.name} has not verified your email address, so Ringside cannot sign you in with it. Verify it there and try again.`);
    }
    const role = roleOf(provider, claims);
    const now = nowIso(this.clock);

    return this.store.db.transaction().execute(async (trx) => {
      const identity = await trx.selectFrom('user_identities').selectAll().where('issuer', '=', claims.iss).where('subject', '=', claims.sub).executeTakeFirst();
      let user: User | undefined;
      let created = false;
      if (identity) {
        user = await trx.selectFrom('users').selectAll().where('id', '=', identity.user_id).executeTakeFirst();
        await trx.updateTable('user_identities').set({ email, last_login_at: now }).where('issuer', '=', claims.iss).where('subject', '=', claims.sub).execute();
      } else {
        user = await trx.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
        if (user) {
          // The email was given to someone new at the provider: the old account is not theirs.
          const other = await trx.selectFrom('user_identities').select('subject').where('issuer', '=', claims.iss).where('user_id', '=', user.id).executeTakeFirst();
          if (other) throw notAllowed();
        } else {
          const view = await this.users.create(
            { email, name: displayName(claims, email), role: role ?? 'user', password: randomBytes(32).toString('base64url') },
            trx as Kysely<Database>,
          );
          user = await trx.selectFrom('users').selectAll().where('id', '=', view.id).executeTakeFirstOrThrow();
          created = true;
        }
        await trx
          .insertInto('user_identities')
          .values({ issuer: claims.iss, subject: claims.sub, user_id: user.id, provider_id: provider.id, email, created_at: now, last_login_at: now })
          .execute();
      }
      if (!user || user.disabled) throw notAllowed();
      if (role && user.role !== role) {
        await trx.updateTable('users').set({ role, updated_at: now }).where('id', '=', user.id).execute();
        user = { ...user, role };
      }
      return { user, created };
    });
  }
}

/**
 * Microsoft Entra ID's issuers: `https://login.microsoftonline.com/<tenant>/v2.0` (v2 tokens) and
 * `https://sts.windows.net/<tenant>/` (v1), and the same for the US-government and China clouds.
 */
const ENTRA_ID_ISSUER =
  /^https:\/\/(?:(?:login\.microsoftonline\.(?:com|us)|login\.partner\.microsoftonline\.cn|login\.chinacloudapi\.cn)\/[0-9a-z-]+\/v2\.0|(?:sts\.windows\.net|sts\.chinacloudapi\.cn)\/[0-9a-z-]+\/)$/i;

/** The ID token comes from Entra ID (the only provider whose `xms_edov` claim means anything). */
export function isEntraIdIssuer(issuer: unknown): boolean {
  return typeof issuer === 'string' && ENTRA_ID_ISSUER.test(issuer);
}

/** One message for every account that may not sign in: it says nothing about which exist. */
function notAllowed(): SsoError {
  return new SsoError(403, 'not_allowed', 'This account cannot sign in to Ringside. Ask your administrator.');
}

/**
 * The role the provider's groups give, when the provider has a group mapping and the token lists
 * groups; undefined otherwise (the user's role stays as it is).
 */
export function roleOf(provider: OidcProviderConfig, claims: IdentityClaims): 'admin' | 'user' | undefined {
  const mapped = Object.entries(provider.groupRoles);
  if (mapped.length === 0) return undefined;
  const raw = claims[provider.groupsClaim];
  if (raw === undefined) return undefined;
  const groups = new Set((Array.isArray(raw) ? raw : [raw]).filter((g): g is string => typeof g === 'string'));
  return mapped.some(([group, role]) => role === 'admin' && groups.has(group)) ? 'admin' : 'user';
}

function displayName(claims: IdentityClaims, email: string): string {
  const clean = (v: unknown) => (typeof v === 'string' ? v.replace(/[\u0000-\u001f\u007f]/g, '').trim() : '');
  const name = clean(claims.name) || [clean(claims.given_name), clean(claims.family_name)].filter(Boolean).join(' ') || email.slice(0, email.indexOf('@'));
  return name.slice(0, 100);
}
