import { breakOsModule } from './break-module.js';

/**
 * BROKEN on purpose: `reserve` runs `useradd` and fails when the account exists, so the
 * manager's second call after a checkpoint fails (what the good fixture did before kit 2).
 */
export default breakOsModule('os-reserve-not-idempotent', (good) => ({
  reserve: async (ctx, args) => {
    for (const user of args.users)
      await ctx.communicator.runChecked(['useradd', '--create-home', user.login], {
        signal: ctx.signal,
      });
    return good.reserve(ctx, args);
  },
}));
