import { type Kysely, sql, type Updateable } from 'kysely';
import type { ComputerState, ComputersTable, LabDatabase } from '../database/schema.js';

/**
 * Changes a computer's row (and its `updated_at`); resolves to nothing a step could not keep.
 *
 * @remarks
 * A computer made `available` while an admin's maintenance request waits for it
 * (`maintenance_requested`) goes to maintenance with that reason instead: the request is applied
 * the moment the computer's work ends, whichever workflow ends it.
 */
export async function updateComputer(
  db: Kysely<LabDatabase>,
  name: string,
  changes: Omit<Updateable<ComputersTable>, 'name' | 'updated_at'>,
): Promise<void> {
  const freed =
    changes.state === 'available'
      ? {
          state: sql<ComputerState>`CASE WHEN maintenance_requested IS NULL THEN 'available' ELSE 'maintenance' END`,
          maintenance_reason: sql<string | null>`maintenance_requested`,
          maintenance_requested: null,
        }
      : {};
  await db
    .updateTable('computers')
    .set({ ...changes, ...freed, updated_at: new Date() })
    .where('name', '=', name)
    .execute();
}
