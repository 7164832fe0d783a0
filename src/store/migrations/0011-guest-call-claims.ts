/**
 * One call per invitation at a time, across nodes: a guest's call claims its invitation here
 * (the primary key makes the claim atomic on SQLite and PostgreSQL alike) and lets go when it
 * ends. A claim left by a node that died is taken over once that node stops its heartbeat.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('guest_call_claims')
    .addColumn('invitation_id', 'text', (c) => c.primaryKey())
    .addColumn('call_id', 'text', (c) => c.notNull())
    .addColumn('node_id', 'text', (c) => c.notNull())
    .addColumn('claimed_at', 'text', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('guest_call_claims').execute();
}
