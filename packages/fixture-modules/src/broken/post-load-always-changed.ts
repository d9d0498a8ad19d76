import { breakOsModule } from './break-module.js';

/**
 * BROKEN on purpose: `postLoad` says `changed: true` even when it changed nothing (a repeated
 * call), so the manager cannot tell a fresh load from a retry.
 */
export default breakOsModule('os-post-load-always-changed', (good) => ({
  postLoad: async (ctx) => ({ ...(await good.postLoad(ctx)), changed: true }),
}));
