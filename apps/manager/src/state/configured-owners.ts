import type { Kysely } from 'kysely';
import type { ManagerConfig } from '../config/manager-config.js';
import type { LabDatabase } from '../database/schema.js';
import type { LabUser, LabUsers, NewUser } from '../database/users.js';

/**
 * The lab's users, where registering a user also gives them the images the configuration says
 * they own and that have no owner yet (the inventory sync left those without one: their owner was
 * not registered at the start).
 */
export function usersWithConfiguredImages(
  users: LabUsers,
  db: Kysely<LabDatabase>,
  config: ManagerConfig,
): LabUsers {
  return {
    add: async (user: NewUser): Promise<LabUser> => {
      const added = await users.add(user);
      const owned = config.images.filter((i) => i.owner === added.login).map((i) => i.name);
      if (owned.length > 0) {
        await db
          .updateTable('images')
          .set({ owner: added.login })
          .where('name', 'in', owned)
          .where('owner', 'is', null)
          .execute();
      }
      return added;
    },
    update: (login, changes) => users.update(login, changes),
    get: (login) => users.get(login),
    list: () => users.list(),
    remove: (login) => users.remove(login),
  };
}
