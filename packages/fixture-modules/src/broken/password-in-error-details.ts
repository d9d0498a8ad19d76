import { coreError } from '@vlab/core';
import { breakOsModule } from './break-module.js';

/**
 * BROKEN on purpose: refuses an invalid login with an error whose details hold the whole request,
 * revealed passwords included, so the secret ends up wherever the error is logged.
 */
export default breakOsModule('os-password-in-error-details', (good) => ({
  reserve: async (ctx, args) => {
    const bad = args.users.find((u) => !/^[a-z_][a-z0-9_-]*$/.test(u.login));
    if (bad !== undefined) {
      throw coreError(
        'VLAB_ERR_CONFIG_INVALID',
        `login ${JSON.stringify(bad.login)} is not valid`,
        {
          computer: ctx.computer.name,
          details: {
            users: args.users.map((u) => ({ login: u.login, password: u.password?.reveal() })),
          },
        },
      );
    }
    return good.reserve(ctx, args);
  },
}));
