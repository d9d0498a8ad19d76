import { breakOsModule } from './break-module.js';

/**
 * BROKEN on purpose: grants admin users sudo with a file in /etc/sudoers.d as well, and sanitize
 * removes the accounts but not the file: the next user with that login would be an admin.
 */
export default breakOsModule('os-sanitize-leaves-sudoers', (good) => ({
  reserve: async (ctx, args) => {
    const result = await good.reserve(ctx, args);
    for (const user of args.users.filter((u) => u.admin)) {
      await ctx.communicator.put(
        `/etc/sudoers.d/vlab-${user.login}`,
        `${user.login} ALL=(ALL) ALL\n`,
        {
          signal: ctx.signal,
          mode: 0o440,
          sudo: true,
        },
      );
    }
    return result;
  },
}));
