/**
 * One-time tokens (SIP WebSocket tokens, the Salesforce hand-off) are consumed by inserting their
 * nonce here: the primary key makes the second use fail on every node sharing the database.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('consumed_tokens')
    .addColumn('nonce', 'text', (c) => c.primaryKey())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('consumed_tokens_expires_at').on('consumed_tokens').column('expires_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('consumed_tokens').execute();
}
