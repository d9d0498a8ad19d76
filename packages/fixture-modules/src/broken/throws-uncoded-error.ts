import { breakOsModule } from './break-module.js';

/**
 * BROKEN on purpose: `reserve` validates logins itself first and refuses a bad one with a plain
 * `Error` (no `VLAB_ERR_` code), so the manager cannot tell a bad request from a crash.
 */
export default breakOsModule('os-throws-uncoded-error', (good) => ({
  reserve: async (ctx, args) => {
    for (const user of args.users) {
      if (!/^[a-z_][a-z0-9_-]*$/.test(user.login))
        throw new Error(`bad login ${JSON.stringify(user.login)}`);
    }
    return good.reserve(ctx, args);
  },
}));
