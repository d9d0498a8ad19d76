import { Secret } from '@vlab/core';
import { breakOsModule } from './break-module.js';

/**
 * BROKEN on purpose: "normalizes" passwords (lower case) before setting them, so the password the
 * user was given does not log them in, though the account has one.
 */
export default breakOsModule('os-reserve-mangles-password', (good) => ({
  reserve: (ctx, args) =>
    good.reserve(ctx, {
      users: args.users.map((u) =>
        u.password === undefined
          ? u
          : {
              ...u,
              password: new Secret(`${u.password.reveal().toLowerCase()}!`, u.password.label),
            },
      ),
    }),
}));
