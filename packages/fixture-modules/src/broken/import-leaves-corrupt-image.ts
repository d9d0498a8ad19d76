import { coreError } from '@vlab/core';
import { MemoryLab } from '@vlab/core/testing';
import { breakProvisioner } from './break-module.js';

/**
 * BROKEN on purpose: `importImage` publishes first and checks the checksum after; on a mismatch it
 * throws `VLAB_ERR_IMAGE_CORRUPT` but leaves the corrupt revision in the store.
 */
export default breakProvisioner('provisioner-import-leaves-corrupt-image', (_good, config) => ({
  importImage: async (ctx, { image, revision, source }) => {
    const lab = MemoryLab.find(config.lab);
    // Stores the bytes under the checksum they turn out to have, then compares: too late.
    const actual = lab.baseImageSource().sha256;
    const stored = await lab.importImage(
      { image, revision, source: { ...source, sha256: actual } },
      ctx.signal,
    );
    if (stored.sha256 !== source.sha256)
      throw coreError('VLAB_ERR_IMAGE_CORRUPT', `image ${image} revision ${revision} is corrupt`);
    return stored;
  },
}));
