/**
 * The Salesforce adapter's local state: a mirror of the org's phone index (Contact, Lead and
 * Account with their phone fields, so a ringing call is matched without an API call), the sync's
 * resumable progress per object, the contacts Add contact created (one per key), and the
 * activities delivered (so notes can be updated and the call card shows the last one without an
 * API call).
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('sf_records')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('record_type', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('title', 'text')
    .addColumn('email', 'text')
    .addColumn('account_id', 'text')
    .addColumn('company', 'text')
    .addColumn('modstamp', 'text')
    .addColumn('synced_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('sf_records_email').on('sf_records').column('email').execute();

  await db.schema
    .createTable('sf_phones')
    .addColumn('record_id', 'text', (c) => c.notNull())
    .addColumn('record_type', 'text', (c) => c.notNull())
    .addColumn('field', 'text', (c) => c.notNull())
    .addColumn('raw', 'text', (c) => c.notNull())
    .addColumn('e164', 'text')
    .addColumn('tail', 'text')
    .addPrimaryKeyConstraint('sf_phones_pk', ['record_id', 'field'])
    .execute();
  await db.schema.createIndex('sf_phones_e164').on('sf_phones').column('e164').execute();
  await db.schema.createIndex('sf_phones_tail').on('sf_phones').column('tail').execute();

  await db.schema
    .createTable('sf_sync_state')
    .addColumn('sobject', 'text', (c) => c.primaryKey())
    .addColumn('phase', 'text', (c) => c.notNull())
    .addColumn('total', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('synced', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('cursor_id', 'text')
    .addColumn('high_water', 'text')
    .addColumn('started_at', 'text', (c) => c.notNull())
    .addColumn('completed_at', 'text')
    .addColumn('polled_at', 'text')
    .addColumn('instance', 'text')
    .execute();

  await db.schema
    .createTable('sf_created_contacts')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('sf_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('sf_activities')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('sobject', 'text', (c) => c.notNull())
    .addColumn('sf_id', 'text', (c) => c.notNull())
    .addColumn('record_id', 'text')
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('occurred_at', 'text', (c) => c.notNull())
    .addColumn('sequence', 'integer')
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('delivered_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('sf_activities_record').on('sf_activities').columns(['record_id', 'occurred_at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['sf_activities', 'sf_created_contacts', 'sf_sync_state', 'sf_phones', 'sf_records']) await db.schema.dropTable(t).execute();
}
