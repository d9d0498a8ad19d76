import type { UserConnectedResult } from '@vlab/core';
import { breakOsModule } from './break-module.js';

/**
 * BROKEN on purpose: `userConnected` caches the first sessions it found per computer and answers
 * from the cache afterwards, so a user who logged out still counts as connected.
 */
export default breakOsModule('os-user-connected-remembers', (good) => {
  const cache = new Map<string, UserConnectedResult>();
  return {
    userConnected: async (ctx, args) => {
      const key = `${ctx.computer.name}:${args.users.join(',')}`;
      const cached = cache.get(key);
      if (cached !== undefined) return cached;
      const found = (await good.userConnected?.(ctx, args)) ?? { sessions: [] };
      if (found.sessions.length > 0) cache.set(key, found);
      return found;
    },
  };
});
