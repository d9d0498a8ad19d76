import { imageKey, MemoryLab } from '@vlab/core/testing';
import { breakProvisioner } from './break-module.js';

/**
 * BROKEN on purpose: `deleteImage` moves the revision to a trash entry (`.trash-<image>@<rev>`)
 * "so it can be restored", which `listImages` still lists. The good provisioner otherwise.
 */
export default breakProvisioner('provisioner-delete-image-to-trash', (_good, config) => ({
  deleteImage: async (_ctx, { name, revision }) => {
    const images = MemoryLab.find(config.lab).images;
    const stored = images.get(imageKey(name, revision));
    if (stored === undefined) return;
    images.set(imageKey(`.trash-${name}`, revision), stored);
    images.delete(imageKey(name, revision));
  },
}));
