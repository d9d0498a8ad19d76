import { breakProvisioner } from './break-module.js';

/**
 * BROKEN on purpose: `imageSize` reports what the revision takes on the store's disk (rounded up
 * to 4 KiB blocks) instead of its logical disk size. The good provisioner otherwise.
 */
export default breakProvisioner('provisioner-image-size-allocated', (good) => ({
  imageSize: async (ctx, image) => Math.ceil((await good.imageSize(ctx, image)) / 4096) * 4096,
}));
