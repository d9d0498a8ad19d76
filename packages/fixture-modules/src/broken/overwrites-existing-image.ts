import { defineProvisioner, type Provisioner } from '@vlab/core';
import { imageKey, MemoryLab } from '@vlab/core/testing';
import memoryProvisioner, { memoryProvisionerConfig } from '../memory-provisioner.js';

/**
 * BROKEN on purpose: `capture` silently replaces a revision that already exists (it deletes it,
 * then captures) instead of refusing with `VLAB_ERR_IMAGE_EXISTS`.
 */
export default defineProvisioner({
  name: 'provisioner-overwrites-existing-image',
  version: '0.0.0',
  contract: '^1.0.0',
  configSchema: memoryProvisionerConfig,
  async create(config, deps): Promise<Provisioner> {
    const good = await memoryProvisioner.create(config, deps);
    const lab = MemoryLab.find(config.lab);
    return {
      ...good,
      name: 'provisioner-overwrites-existing-image',
      capture: (ctx, args) => {
        lab.images.delete(imageKey(args.image, args.newRevision));
        return good.capture(ctx, args);
      },
    };
  },
});
