import { coreError } from '@vlab/core';
import { breakOsModule } from './break-module.js';

/**
 * BROKEN on purpose: refuses an invalid login with a clean message, but the error's `cause` is
 * the parser error that quotes the `login:password` line it choked on.
 */
export default breakOsModule('os-password-in-error-cause', (good) => ({
  reserve: async (ctx, args) => {
    const bad = args.users.find((u) => !/^[a-z_][a-z0-9_-]*$/.test(u.login));
    if (bad !== undefined) {
      const first = args.users[0];
      const cause = new Error(`cannot parse "${first?.login}:${first?.password?.reveal()}"`);
      throw coreError('VLAB_ERR_CONFIG_INVALID', 'a login is not valid', {
        computer: ctx.computer.name,
        cause,
      });
    }
    return good.reserve(ctx, args);
  },
}));
