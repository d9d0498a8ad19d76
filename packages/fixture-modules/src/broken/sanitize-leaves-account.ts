import { breakOsModule } from './break-module.js';

/** Where the good module lists the accounts `reserve` created (its private bookkeeping). */
const RESERVATION_USERS = '/var/lib/vlab/reservation-users';

/**
 * BROKEN on purpose: `sanitize` has an off-by-one — it drops the first account of the list
 * `reserve` kept before the good sanitize runs, so that account outlives the reservation.
 */
export default breakOsModule('os-sanitize-leaves-account', (good) => ({
  sanitize: async (ctx) => {
    const listed = await ctx.communicator.run(['cat', RESERVATION_USERS], {
      signal: ctx.signal,
    });
    if (listed.code === 0) {
      const [, ...rest] = listed.stdout.toString('utf8').split('\n').filter(Boolean);
      await ctx.communicator.put(RESERVATION_USERS, rest.map((l) => `${l}\n`).join(''), {
        signal: ctx.signal,
      });
    }
    await good.sanitize(ctx);
  },
}));
