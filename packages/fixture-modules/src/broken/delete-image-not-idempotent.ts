import { coreError } from '@vlab/core';
import { imageKey, MemoryLab } from '@vlab/core/testing';
import { breakProvisioner } from './break-module.js';

/**
 * BROKEN on purpose: `deleteImage` of a revision that is not in the store throws
 * `VLAB_ERR_IMAGE_NOT_FOUND` instead of succeeding: not idempotent. The good provisioner
 * otherwise.
 */
export default breakProvisioner('provisioner-delete-image-not-idempotent', (good, config) => ({
  deleteImage: async (ctx, image) => {
    if (!MemoryLab.find(config.lab).images.has(imageKey(image.name, image.revision)))
      throw coreError('VLAB_ERR_IMAGE_NOT_FOUND', `no image ${image.name}@${image.revision}`);
    await good.deleteImage(ctx, image);
  },
}));
