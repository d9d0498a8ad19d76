import { breakOsModule } from './break-module.js';

/**
 * BROKEN on purpose: keeps the reservation's passwords in a file for "support", written with the
 * default mode 0644, so every account on the machine can read them.
 */
export default breakOsModule('os-password-in-readable-file', (good) => ({
  reserve: async (ctx, args) => {
    const result = await good.reserve(ctx, args);
    const lines = args.users.map((u) => `${u.login} ${u.password?.reveal() ?? '-'}\n`);
    await ctx.communicator.put('/var/lib/vlab/support-passwords', lines.join(''), {
      signal: ctx.signal,
    });
    return result;
  },
}));
