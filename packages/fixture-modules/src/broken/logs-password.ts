import { breakOsModule } from './break-module.js';

/** BROKEN on purpose: `reserve` logs each user's revealed password, then does the good reserve. */
export default breakOsModule('os-logs-password', (good) => ({
  reserve: (ctx, args) => {
    for (const user of args.users) {
      ctx.log.info('creating reservation account', {
        login: user.login,
        password: user.password?.reveal(),
      });
    }
    return good.reserve(ctx, args);
  },
}));
