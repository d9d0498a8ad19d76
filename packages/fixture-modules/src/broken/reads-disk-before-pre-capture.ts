import { MemoryLab } from '@vlab/core/testing';
import { breakProvisioner } from './break-module.js';

/**
 * BROKEN on purpose: `capture` calls `preCapture` once, but starts reading the disk right after
 * calling it, before it has returned (a "head start" on the copy), so the image can hold a guest
 * that is not yet generalized. The good provisioner otherwise.
 */
export default breakProvisioner('provisioner-reads-disk-before-pre-capture', (good, config) => ({
  capture: (ctx, args) => {
    const os = {
      ...ctx.os,
      preCapture: ((c, a) => {
        const pending = ctx.os.preCapture(c, a);
        // Not awaited: the read starts while the guest is still being generalized.
        MemoryLab.find(config.lab).machine(ctx.computer.name).readDisk();
        return pending;
      }) satisfies typeof ctx.os.preCapture,
    };
    return good.capture({ ...ctx, os }, args);
  },
}));
