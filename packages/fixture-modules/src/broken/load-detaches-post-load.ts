import { breakProvisioner } from './break-module.js';

/**
 * BROKEN on purpose: `load` runs `postLoad` in a detached context ("postLoad must never be cut
 * short"), so an abort that comes while `postLoad` runs is ignored and `load` resolves. The good
 * provisioner otherwise.
 */
export default breakProvisioner('provisioner-load-detaches-post-load', (good) => ({
  load: (ctx, args) => {
    const os = {
      ...ctx.os,
      postLoad: ((_c) =>
        ctx.os.postLoad(
          ctx.child({ phase: 'postLoad', deadline: Date.now() + 60_000, detached: true }),
        )) satisfies typeof ctx.os.postLoad,
    };
    return good.load({ ...ctx, os }, args);
  },
}));
