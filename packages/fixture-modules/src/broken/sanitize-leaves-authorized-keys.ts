import { breakOsModule } from './break-module.js';

/**
 * BROKEN on purpose: also writes each user's keys to /etc/ssh/authorized_keys/<login> (outside
 * the home that userdel removes), and sanitize forgets them.
 */
export default breakOsModule('os-sanitize-leaves-authorized-keys', (good) => ({
  reserve: async (ctx, args) => {
    const result = await good.reserve(ctx, args);
    for (const user of args.users) {
      await ctx.communicator.put(
        `/etc/ssh/authorized_keys/${user.login}`,
        user.sshKeys.map((k) => `${k}\n`).join(''),
        { signal: ctx.signal, mode: 0o644, sudo: true },
      );
    }
    return result;
  },
}));
