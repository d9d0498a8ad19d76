import { breakOsModule } from './break-module.js';

/**
 * BROKEN on purpose: declares `passwordLogin` but creates the accounts without their passwords
 * (it drops them before the good reserve runs), so password users cannot log in.
 */
export default breakOsModule('os-reserve-ignores-password', (good) => ({
  reserve: (ctx, args) =>
    good.reserve(ctx, { users: args.users.map((u) => ({ ...u, password: undefined })) }),
}));
