import { breakOsModule } from './break-module.js';

/**
 * BROKEN on purpose: `userConnected` reports every session on the machine, not only those of the
 * users asked about (an operator's own login would keep a reservation "in use").
 */
export default breakOsModule('os-user-connected-ignores-users', (good) => ({
  userConnected: async (ctx) => {
    const everyone = ['alice', 'bob', 'root'];
    return good.userConnected?.(ctx, { users: everyone }) ?? { sessions: [] };
  },
}));
