import { breakOsModule } from './break-module.js';

/**
 * BROKEN on purpose: "repairs" an SSH key that spans lines by splitting it into several keys, so
 * a request can smuggle a second key into authorized_keys.
 */
export default breakOsModule('os-reserve-accepts-multiline-key', (good) => ({
  reserve: (ctx, args) =>
    good.reserve(ctx, {
      users: args.users.map((u) => ({ ...u, sshKeys: u.sshKeys.flatMap((k) => k.split('\n')) })),
    }),
}));
