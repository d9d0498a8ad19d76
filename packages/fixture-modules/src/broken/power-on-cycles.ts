import { breakProvisioner } from './break-module.js';

/**
 * BROKEN on purpose: `powerOn` always cycles the power ("to be sure it boots cleanly"), so
 * powering on a machine that is on reboots it: not idempotent. The good provisioner otherwise.
 */
export default breakProvisioner('provisioner-power-on-cycles', (good) => ({
  powerOn: async (ctx) => {
    await good.powerOff(ctx);
    await good.powerOn(ctx);
  },
}));
