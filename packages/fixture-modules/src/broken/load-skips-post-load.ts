import { coreError } from '@vlab/core';
import { breakProvisioner } from './break-module.js';

/**
 * BROKEN on purpose: `load` deploys and boots the image but never calls `ctx.os.postLoad`; it
 * reports the stamp it finds instead. The good provisioner, handed an OS module whose `postLoad`
 * only reads the stamp.
 */
export default breakProvisioner('provisioner-load-skips-post-load', (good) => ({
  load: (ctx, args) => {
    const os = {
      ...ctx.os,
      postLoad: async () => {
        const stamp = await ctx.os.readStamp(ctx);
        if (stamp === undefined)
          throw coreError('VLAB_ERR_STAMP_INVALID', 'the loaded image has no stamp', {
            computer: ctx.computer.name,
          });
        return { changed: false, stamp };
      },
    };
    return good.load({ ...ctx, os }, args);
  },
}));
