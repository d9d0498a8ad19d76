import { breakProvisioner } from './break-module.js';

/**
 * BROKEN on purpose: `nodeStatus` "tidies up" a tainted machine by calling `ctx.os.sanitize`
 * itself — an operation the contract leaves to the manager (and one that changes the machine in
 * what should be a question). The good provisioner otherwise.
 */
export default breakProvisioner('provisioner-node-status-calls-sanitize', (good) => ({
  nodeStatus: async (ctx) => {
    const status = await good.nodeStatus(ctx);
    if (status.stamp?.tainted === true) await ctx.os.sanitize(ctx.child({ phase: 'tidy' }));
    return status;
  },
}));
