/**
 * SIP state: registrations (the location service's bindings, surviving restarts), calls and their
 * events (the call records the CRM pipeline reads), and per-user outbound dialling rules.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('registrations')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('contact', 'text', (c) => c.notNull())
    .addColumn('instance_id', 'text')
    .addColumn('reg_id', 'integer')
    .addColumn('call_id', 'text', (c) => c.notNull())
    .addColumn('cseq', 'integer', (c) => c.notNull())
    .addColumn('q', 'text')
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('transport', 'text', (c) => c.notNull())
    .addColumn('source_address', 'text', (c) => c.notNull())
    .addColumn('source_port', 'integer', (c) => c.notNull())
    .addColumn('flow_id', 'text')
    .addColumn('node_id', 'text', (c) => c.notNull())
    .addColumn('user_agent', 'text')
    .addColumn('device', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('registrations_user').on('registrations').columns(['user_id', 'expires_at']).execute();
  await db.schema.createIndex('registrations_flow').on('registrations').column('flow_id').execute();

  await db.schema
    .createTable('calls')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('direction', 'text', (c) => c.notNull())
    .addColumn('from_uri', 'text', (c) => c.notNull())
    .addColumn('from_number', 'text')
    .addColumn('from_display', 'text')
    .addColumn('to_uri', 'text', (c) => c.notNull())
    .addColumn('to_number', 'text')
    .addColumn('caller_user_id', 'text', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('callee_user_id', 'text', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('trunk', 'text')
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('started_at', 'text', (c) => c.notNull())
    .addColumn('answered_at', 'text')
    .addColumn('ended_at', 'text')
    .addColumn('answered_device', 'text')
    .addColumn('answered_registration_id', 'text')
    .addColumn('cause', 'text')
    .addColumn('sip_status', 'integer')
    .addColumn('hangup_by', 'text')
    .addColumn('duration_s', 'integer')
    .addColumn('node_id', 'text', (c) => c.notNull())
    .addColumn('sip_call_id', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('calls_started').on('calls').column('started_at').execute();
  await db.schema.createIndex('calls_state').on('calls').columns(['state', 'node_id']).execute();

  await db.schema
    .createTable('call_events')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('call_id', 'text', (c) => c.notNull().references('calls.id').onDelete('cascade'))
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('data', 'text')
    .execute();
  await db.schema.createIndex('call_events_call').on('call_events').columns(['call_id', 'at']).execute();

  await db.schema.alterTable('users').addColumn('allowed_prefixes', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('users').dropColumn('allowed_prefixes').execute();
  for (const t of ['call_events', 'calls', 'registrations']) await db.schema.dropTable(t).execute();
}
