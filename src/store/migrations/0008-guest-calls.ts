/** Calls remember whether they were video calls and which invitation a guest's call came from. */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('calls').addColumn('video', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('calls').addColumn('invitation_id', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('calls').dropColumn('invitation_id').execute();
  await db.schema.alterTable('calls').dropColumn('video').execute();
}
