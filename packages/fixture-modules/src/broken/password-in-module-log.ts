import { breakOsModule } from './break-module.js';

/**
 * BROKEN on purpose: logs each new account with its password through the module's own logger
 * (`deps.log`, given to `create`), not the operation's context logger.
 */
export default breakOsModule('os-password-in-module-log', (good, _config, deps) => ({
  reserve: async (ctx, args) => {
    for (const user of args.users)
      deps.log.debug('account', { login: user.login, initial: user.password?.reveal() });
    return good.reserve(ctx, args);
  },
}));
