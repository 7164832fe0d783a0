/**
 * Device passwords become digest HA1 values (the plaintext column goes), and every SIP name of a
 * user — SIP username and extension — goes into one unique column (`sip_identities`), so one
 * user's SIP username can never equal another user's extension.
 *
 * HA1 depends on the realm (SIP_DOMAIN), which a migration does not know: the old plaintext moves
 * to `legacy_sip_password`, and the server hashes and clears it at start
 * (`UserDirectory.hashLegacyDevicePasswords`). Portable statements only (SQLite ≥ 3.35 drops columns).
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  for (const column of ['sip_realm', 'sip_ha1_md5', 'sip_ha1_sha256', 'sip_ext_ha1_md5', 'sip_ext_ha1_sha256', 'legacy_sip_password']) {
    await db.schema.alterTable('users').addColumn(column, 'text').execute();
  }
  await sql`update users set legacy_sip_password = sip_password`.execute(db);
  await db.schema.alterTable('users').dropColumn('sip_password').execute();

  await db.schema
    .createTable('sip_identities')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .execute();
  await db.schema.createIndex('sip_identities_user').on('sip_identities').column('user_id').execute();
  // Existing collisions (a SIP username equal to another user's extension): the extension, which an
  // administrator assigned, keeps the name; the oldest user wins among equals.
  await sql`insert into sip_identities (name, user_id)
    select extension, id from users where extension is not null order by created_at
    on conflict (name) do nothing`.execute(db);
  await sql`insert into sip_identities (name, user_id)
    select sip_username, id from users where sip_username is not null order by created_at
    on conflict (name) do nothing`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('sip_identities').execute();
  await db.schema.alterTable('users').addColumn('sip_password', 'text', (c) => c.notNull().defaultTo('')).execute();
  await sql`update users set sip_password = coalesce(legacy_sip_password, '')`.execute(db);
  for (const column of ['legacy_sip_password', 'sip_ext_ha1_sha256', 'sip_ext_ha1_md5', 'sip_ha1_sha256', 'sip_ha1_md5', 'sip_realm']) {
    await db.schema.alterTable('users').dropColumn(column).execute();
  }
}
