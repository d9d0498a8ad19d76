import { breakOsModule } from './break-module.js';

/**
 * BROKEN on purpose: sets each password with the password in chpasswd's argv as well as on
 * stdin, so any account on the machine can read it in the process list while it runs.
 */
export default breakOsModule('os-password-in-argv', (good) => ({
  reserve: async (ctx, args) => {
    const result = await good.reserve(ctx, args);
    for (const user of args.users) {
      if (user.password === undefined) continue;
      const line = `${user.login}:${user.password.reveal()}`;
      await ctx.communicator.runChecked(['chpasswd', '--', line], {
        signal: ctx.signal,
        stdin: `${line}\n`,
      });
    }
    return result;
  },
}));
