import type { Logger } from '@vlab/core';
import type { Kysely } from 'kysely';
import {
  type ConfiguredComputer,
  configuredComputers,
  type ManagerConfig,
} from '../config/manager-config.js';
import type { LabDatabase } from '../database/schema.js';

/** Why a computer the database knows but the configuration no longer names is in maintenance. */
export const NOT_CONFIGURED_REASON = 'not in the configuration any more';

/** What the inventory synchronisation at start changed. @public */
export interface InventoryChanges {
  /** Computers the configuration names that the database did not know (now `available`). */
  readonly added: readonly string[];
  /** Known computers whose provisioner instance the configuration changed. */
  readonly moved: readonly string[];
  /** Computers the database knows and the configuration no longer names (now in maintenance). */
  readonly dropped: readonly string[];
  /** Images the configuration names that the database did not know. */
  readonly imagesAdded: readonly string[];
  /** Image owners the configuration names who are not registered users (the owner stays unset). */
  readonly unknownOwners: readonly string[];
}

/**
 * Makes the database's computers and images what the configuration says, in one transaction, at
 * every start.
 *
 * @remarks
 * A new computer starts `available` with nothing loaded, so its first reservation loads it. A
 * computer the configuration no longer names is never deleted (its reservations and events keep
 * their history): it goes to maintenance with a reason an operator sees, never silently. A
 * computer that comes back into the configuration stays in maintenance until an admin takes it
 * out. Re-running it changes nothing.
 * @public
 */
export async function syncInventory(
  db: Kysely<LabDatabase>,
  config: ManagerConfig,
  log: Logger,
): Promise<InventoryChanges> {
  const configured: ConfiguredComputer[] = configuredComputers(config);
  return db.transaction().execute(async (tx) => {
    const known = new Map(
      (
        await tx
          .selectFrom('computers')
          .select(['name', 'provisioner', 'state', 'maintenance_reason'])
          .execute()
      ).map((row) => [row.name, row]),
    );
    const added: string[] = [];
    const moved: string[] = [];
    for (const { computer, provisioner } of configured) {
      const row = known.get(computer.name);
      if (row === undefined) {
        await tx
          .insertInto('computers')
          .values({ name: computer.name, provisioner, state: 'available' })
          .execute();
        added.push(computer.name);
      } else if (row.provisioner !== provisioner) {
        // Another provisioner may leave the disk in any state: reload before anyone gets it.
        await tx
          .updateTable('computers')
          .set({ provisioner, loaded_image: null, loaded_revision: null, updated_at: new Date() })
          .where('name', '=', computer.name)
          .execute();
        moved.push(computer.name);
      }
    }
    const names = new Set(configured.map((c) => c.computer.name));
    const dropped: string[] = [];
    for (const row of known.values()) {
      if (names.has(row.name)) continue;
      if (row.state === 'maintenance' && row.maintenance_reason === NOT_CONFIGURED_REASON) continue;
      await tx
        .updateTable('computers')
        .set({
          state: 'maintenance',
          maintenance_reason: NOT_CONFIGURED_REASON,
          updated_at: new Date(),
        })
        .where('name', '=', row.name)
        .execute();
      dropped.push(row.name);
    }

    const users = new Set(
      (await tx.selectFrom('users').select('login').execute()).map((u) => u.login),
    );
    const images = new Set(
      (await tx.selectFrom('images').select('name').execute()).map((i) => i.name),
    );
    const imagesAdded: string[] = [];
    const unknownOwners: string[] = [];
    for (const image of config.images) {
      const owner = users.has(image.owner) ? image.owner : null;
      if (owner === null) unknownOwners.push(image.owner);
      const values = { os_family: image.osFamily, owner, new_revision_test: image.newRevisionTest };
      if (images.has(image.name)) {
        await tx.updateTable('images').set(values).where('name', '=', image.name).execute();
      } else {
        await tx
          .insertInto('images')
          .values({ name: image.name, ...values })
          .execute();
        imagesAdded.push(image.name);
      }
    }
    if (added.length + moved.length + dropped.length + imagesAdded.length > 0)
      log.info('inventory synchronised with the configuration', {
        added,
        moved,
        dropped,
        imagesAdded,
      });
    if (unknownOwners.length > 0)
      log.warn('image owners are not registered users; their images have no owner until they are', {
        owners: unknownOwners,
      });
    return { added, moved, dropped, imagesAdded, unknownOwners };
  });
}
