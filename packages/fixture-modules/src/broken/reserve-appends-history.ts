import { breakOsModule } from './break-module.js';

/** Where this module keeps a history of reservations (outside /var/log). */
const HISTORY = '/var/lib/vlab/reservation-history';

/**
 * BROKEN on purpose: `reserve` appends each user to a history file on every call, so a repeated
 * call (the manager's, after a checkpoint) changes the machine again: not idempotent, though it
 * never throws.
 */
export default breakOsModule('os-reserve-appends-history', (good) => ({
  reserve: async (ctx, args) => {
    const result = await good.reserve(ctx, args);
    const old = await ctx.communicator.run(['cat', HISTORY], { signal: ctx.signal });
    const added = args.users.map((u) => `reserved ${u.login}\n`).join('');
    await ctx.communicator.put(
      HISTORY,
      `${old.code === 0 ? old.stdout.toString('utf8') : ''}${added}`,
      {
        signal: ctx.signal,
      },
    );
    return result;
  },
}));
