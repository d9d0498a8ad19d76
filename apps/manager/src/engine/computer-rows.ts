import type { Kysely, Updateable } from 'kysely';
import type { ComputersTable, LabDatabase } from '../database/schema.js';

/** Changes a computer's row (and its `updated_at`); resolves to nothing a step could not keep. */
export async function updateComputer(
  db: Kysely<LabDatabase>,
  name: string,
  changes: Omit<Updateable<ComputersTable>, 'name' | 'updated_at'>,
): Promise<void> {
  await db
    .updateTable('computers')
    .set({ ...changes, updated_at: new Date() })
    .where('name', '=', name)
    .execute();
}
