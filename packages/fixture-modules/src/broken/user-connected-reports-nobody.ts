import { breakOsModule } from './break-module.js';

/**
 * BROKEN on purpose: declares `userConnected` but never finds a session (it looks at the wrong
 * records), so the manager would reclaim reservations people are using.
 */
export default breakOsModule('os-user-connected-reports-nobody', () => ({
  userConnected: async () => ({ sessions: [] }),
}));
