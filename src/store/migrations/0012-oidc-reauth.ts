/**
 * Signing in again with the provider for real (OpenID Connect Core §3.1.2.1): a sign-in in
 * progress remembers that it asked the provider for a fresh authentication (`prompt=login`,
 * `max_age=0`), and a single sign-on session keeps when the provider last checked the user
 * (the ID token's `auth_time`) — what "signed in recently" means for resetting the device password.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('oidc_pending').addColumn('reauth', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  // ISO time like every other timestamp here; null when the provider did not say.
  await db.schema.alterTable('sso_sessions').addColumn('auth_time', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('sso_sessions').dropColumn('auth_time').execute();
  await db.schema.alterTable('oidc_pending').dropColumn('reauth').execute();
}
