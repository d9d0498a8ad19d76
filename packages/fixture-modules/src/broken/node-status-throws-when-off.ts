import { breakProvisioner } from './break-module.js';

/**
 * BROKEN on purpose: `nodeStatus` reads the stamp first, without looking at the power, so for a
 * machine that is off it throws (the OS cannot be reached) instead of answering `reload`. The good
 * provisioner otherwise.
 */
export default breakProvisioner('provisioner-node-status-throws-when-off', (good) => ({
  nodeStatus: async (ctx) => {
    await ctx.os.readStamp(ctx.child({ phase: 'readStamp' }));
    return good.nodeStatus(ctx);
  },
}));
