import { imageKey, MemoryLab } from '@vlab/core/testing';
import { breakProvisioner } from './break-module.js';

/**
 * BROKEN on purpose: `capture` silently replaces a revision that already exists (it deletes it,
 * then captures) instead of refusing with `VLAB_ERR_IMAGE_EXISTS`.
 */
export default breakProvisioner('provisioner-overwrites-existing-image', (good, config) => ({
  capture: (ctx, args) => {
    MemoryLab.find(config.lab).images.delete(imageKey(args.image, args.newRevision));
    return good.capture(ctx, args);
  },
}));
