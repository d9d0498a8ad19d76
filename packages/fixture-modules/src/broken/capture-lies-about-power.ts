import type { PowerProbe } from '@vlab/core';
import { breakProvisioner } from './break-module.js';

/** A power probe that always says `off`. */
const alwaysOff: PowerProbe = { status: async () => 'off' };

/**
 * BROKEN on purpose: `capture` hands `preCapture` its own power probe, one that always says `off`
 * ("the guest knows when it is done; the BMC is slow"). `preCapture` then returns as soon as the
 * guest was told to power off, and the disk is read while the guest is still shutting down with
 * the power on — a live guest, not the generalized image. The good provisioner otherwise.
 */
export default breakProvisioner('provisioner-capture-lies-about-power', (good) => ({
  capture: (ctx, args) => {
    const os = {
      ...ctx.os,
      preCapture: ((c, a) =>
        ctx.os.preCapture(
          c.child({ phase: 'own-probe', power: alwaysOff }),
          a,
        )) satisfies typeof ctx.os.preCapture,
    };
    return good.capture({ ...ctx, os }, args);
  },
}));
