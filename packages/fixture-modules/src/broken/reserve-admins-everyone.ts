import { breakOsModule } from './break-module.js';

/** BROKEN on purpose: `reserve` puts every user in the sudo group, not only `admin: true` ones. */
export default breakOsModule('os-reserve-admins-everyone', (good) => ({
  reserve: async (ctx, args) => {
    const result = await good.reserve(ctx, args);
    for (const user of args.users)
      await ctx.communicator.runChecked(['usermod', '--append', '--groups', 'sudo', user.login], {
        signal: ctx.signal,
      });
    return result;
  },
}));
