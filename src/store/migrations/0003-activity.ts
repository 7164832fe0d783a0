/**
 * The CRM side of calls: each user's part in a call (the record it belongs to, notes, quality),
 * the durable outbox that delivers activities to the CRM, and node heartbeats (to close calls a
 * crashed node left open with a best-known end).
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('call_parties')
    .addColumn('call_id', 'text', (c) => c.notNull().references('calls.id').onDelete('cascade'))
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('record_type', 'text')
    .addColumn('record_id', 'text')
    .addColumn('record_source', 'text')
    .addColumn('matches', 'text')
    .addColumn('notes', 'text')
    .addColumn('quality', 'text')
    .addColumn('created_contact_id', 'text')
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('call_parties_pk', ['call_id', 'user_id'])
    .execute();
  await db.schema.createIndex('call_parties_user').on('call_parties').columns(['user_id', 'call_id']).execute();

  await db.schema
    .createTable('activity_outbox')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('idempotency_key', 'text', (c) => c.notNull().unique())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text')
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'text', (c) => c.notNull())
    .addColumn('locked_until', 'text')
    .addColumn('last_error', 'text')
    .addColumn('delivered_at', 'text')
    .addColumn('crm_ref', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('activity_outbox_due').on('activity_outbox').columns(['delivered_at', 'next_attempt_at']).execute();

  // Who answered (a DID rings several users: the others' activities say "answered elsewhere").
  await db.schema.alterTable('calls').addColumn('answered_user_id', 'text').execute();
  // The last event time, for closing calls a crashed node left open.
  await db.schema.alterTable('calls').addColumn('updated_at', 'text').execute();

  await db.schema
    .createTable('nodes')
    .addColumn('node_id', 'text', (c) => c.primaryKey())
    .addColumn('heartbeat_at', 'text', (c) => c.notNull())
    .addColumn('started_at', 'text', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('calls').dropColumn('updated_at').execute();
  await db.schema.alterTable('calls').dropColumn('answered_user_id').execute();
  for (const t of ['nodes', 'activity_outbox', 'call_parties']) await db.schema.dropTable(t).execute();
}
