import { defineProvisioner, type Provisioner } from '@vlab/core';
import { MemoryLab } from '@vlab/core/testing';
import memoryProvisioner, { memoryProvisionerConfig } from '../memory-provisioner.js';

/**
 * BROKEN on purpose: `capture` calls `preCapture` once, but starts reading the disk right after
 * calling it, before it has returned (a "head start" on the copy), so the image can hold a guest
 * that is not yet generalized. The good provisioner otherwise.
 */
export default defineProvisioner({
  name: 'provisioner-reads-disk-before-pre-capture',
  version: '0.0.0',
  contract: '^1.0.0',
  configSchema: memoryProvisionerConfig,
  async create(config, deps): Promise<Provisioner> {
    const good = await memoryProvisioner.create(config, deps);
    const lab = MemoryLab.find(config.lab);
    return {
      ...good,
      name: 'provisioner-reads-disk-before-pre-capture',
      capture: (ctx, args) => {
        const os = {
          ...ctx.os,
          preCapture: ((c, a) => {
            const pending = ctx.os.preCapture(c, a);
            // Not awaited: the read starts while the guest is still being generalized.
            lab.machine(ctx.computer.name).readDisk();
            return pending;
          }) satisfies typeof ctx.os.preCapture,
        };
        return good.capture({ ...ctx, os }, args);
      },
    };
  },
});
