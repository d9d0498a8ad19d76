import { breakProvisioner } from './break-module.js';

/**
 * BROKEN on purpose: `nodeStatus` judges on its own instead of using `nodeVerdict`, and forgets
 * the taint — a computer users had access to would be handed out again without a reload.
 */
export default breakProvisioner('provisioner-node-status-ignores-taint', (good) => ({
  nodeStatus: async (ctx) => {
    const status = await good.nodeStatus(ctx);
    if (status.stamp?.tainted !== true) return status;
    return { ...status, verdict: 'ready', reason: undefined };
  },
}));
