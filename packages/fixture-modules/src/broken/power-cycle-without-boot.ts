import { breakProvisioner } from './break-module.js';

/**
 * BROKEN on purpose: `powerCycle` only makes sure the machine is on (`powerOn`), so a machine that
 * is on is not cycled at all: no new boot. The good provisioner otherwise.
 */
export default breakProvisioner('provisioner-power-cycle-without-boot', (good) => ({
  powerCycle: (ctx) => good.powerOn(ctx),
}));
