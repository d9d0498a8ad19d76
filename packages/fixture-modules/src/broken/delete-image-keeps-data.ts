import { imageKey, MemoryLab } from '@vlab/core/testing';
import { breakProvisioner } from './break-module.js';

/**
 * BROKEN on purpose: `deleteImage` only hides the revision — it renames it to
 * `.deleted-<image>@<rev>`, which `listImages` skips like every dot entry — and keeps its bytes in
 * the store for ever. Nothing the provisioner answers shows it; the store does. The good
 * provisioner otherwise.
 */
export default breakProvisioner('provisioner-delete-image-keeps-data', (good, config) => ({
  deleteImage: async (_ctx, { name, revision }) => {
    const images = MemoryLab.find(config.lab).images;
    const stored = images.get(imageKey(name, revision));
    if (stored === undefined) return;
    images.set(imageKey(`.deleted-${name}`, revision), stored);
    images.delete(imageKey(name, revision));
  },
  listImages: async (ctx) =>
    (await good.listImages(ctx)).filter((image) => !image.name.startsWith('.')),
}));
