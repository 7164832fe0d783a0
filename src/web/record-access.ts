/**
 * Who may do what to a built-in CRM record. Reading and editing stay open to every user: in a
 * small sales team reps cover for each other, update a colleague's contact after a call, and the
 * phone index must find every record for screen pops. Deleting destroys history for everyone
 * (there is no undo and no audit), so only the record's owner — whoever created it — or an
 * administrator may delete it; records without an owner (imported, seeded) only an administrator.
 */
import { ForbiddenError } from '../shared/errors.ts';
import type { Store, User } from '../store/index.ts';

export type RecordTable = 'contacts' | 'accounts' | 'leads';

export async function assertMayDelete(store: Store, table: RecordTable, id: string, user: User): Promise<void> {
  if (user.role === 'admin') return;
  const row = await store.db.selectFrom(table).select('owner_id').where('id', '=', id).executeTakeFirst();
  // An unknown id falls through to the delete, which answers 404 as before.
  if (!row || row.owner_id === user.id) return;
  const what = table.slice(0, -1);
  throw new ForbiddenError(
    row.owner_id
      ? `Only the ${what}'s owner or an administrator can delete this ${what}.`
      : `Only an administrator can delete this ${what}: it has no owner.`,
  );
}
