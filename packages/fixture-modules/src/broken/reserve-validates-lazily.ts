import { breakOsModule } from './break-module.js';

/**
 * BROKEN on purpose: validates and creates one user at a time, so a bad second user is refused
 * only after the first account exists.
 */
export default breakOsModule('os-reserve-validates-lazily', (good) => ({
  reserve: async (ctx, args) => {
    let result = { access: [] as Awaited<ReturnType<typeof good.reserve>>['access'] };
    for (const user of args.users) {
      const one = await good.reserve(ctx, { users: [user] });
      result = { access: [...result.access, ...one.access] };
    }
    return result;
  },
}));
