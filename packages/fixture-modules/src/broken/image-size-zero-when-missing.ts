import { isVlabError } from '@vlab/core';
import { breakProvisioner } from './break-module.js';

/**
 * BROKEN on purpose: `imageSize` of a revision that is not in the store answers 0 instead of
 * throwing `VLAB_ERR_IMAGE_NOT_FOUND`. The good provisioner otherwise.
 */
export default breakProvisioner('provisioner-image-size-zero-when-missing', (good) => ({
  imageSize: (ctx, image) =>
    good
      .imageSize(ctx, image)
      .catch((error: unknown) =>
        isVlabError(error, 'VLAB_ERR_IMAGE_NOT_FOUND') ? 0 : Promise.reject(error),
      ),
}));
