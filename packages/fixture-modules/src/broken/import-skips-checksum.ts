import { coreError } from '@vlab/core';
import { imageKey, MemoryLab } from '@vlab/core/testing';
import { breakProvisioner } from './break-module.js';

/**
 * BROKEN on purpose: `importImage` stores whatever the source gives without checking it against
 * `source.sha256`, so a damaged download enters the store instead of failing with
 * `VLAB_ERR_IMAGE_CORRUPT`.
 */
export default breakProvisioner('provisioner-import-skips-checksum', (_good, config) => ({
  importImage: async (_ctx, { image, revision, source }) => {
    const lab = MemoryLab.find(config.lab);
    if (lab.images.has(imageKey(image, revision)))
      throw coreError('VLAB_ERR_IMAGE_EXISTS', `image ${image} revision ${revision} exists`);
    const chunks: Buffer[] = [];
    if (source.stream !== undefined)
      for await (const c of source.stream) chunks.push(Buffer.from(c));
    const data = Buffer.concat(chunks);
    lab.images.set(imageKey(image, revision), {
      data,
      createdAt: new Date().toISOString(),
      sha256: source.sha256,
      osFamily: source.osFamily,
    });
    const stored = lab.storedImage(image, revision);
    if (stored === undefined) throw new Error('unreachable');
    return stored;
  },
}));
