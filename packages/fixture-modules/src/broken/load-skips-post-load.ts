import { coreError, defineProvisioner, type Provisioner } from '@vlab/core';
import memoryProvisioner, { memoryProvisionerConfig } from '../memory-provisioner.js';

/**
 * BROKEN on purpose: `load` deploys and boots the image but never calls `ctx.os.postLoad`; it
 * reports the stamp it finds instead. The good provisioner, handed an OS module whose `postLoad`
 * only reads the stamp.
 */
export default defineProvisioner({
  name: 'provisioner-load-skips-post-load',
  version: '0.0.0',
  contract: '^1.0.0',
  configSchema: memoryProvisionerConfig,
  async create(config, deps): Promise<Provisioner> {
    const good = await memoryProvisioner.create(config, deps);
    return {
      ...good,
      name: 'provisioner-load-skips-post-load',
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
    };
  },
});
