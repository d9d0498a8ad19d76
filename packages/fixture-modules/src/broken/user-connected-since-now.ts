import { breakOsModule } from './break-module.js';

/**
 * BROKEN on purpose: `userConnected` finds the sessions but says each began when it was asked, so
 * the manager could never tell how long a user has been connected.
 */
export default breakOsModule('os-user-connected-since-now', (good) => ({
  userConnected: async (ctx, args) => {
    const found = (await good.userConnected?.(ctx, args)) ?? { sessions: [] };
    const now = new Date().toISOString();
    return { sessions: found.sessions.map((s) => ({ ...s, since: now })) };
  },
}));
