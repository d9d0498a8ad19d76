import { breakProvisioner } from './break-module.js';

/**
 * BROKEN on purpose: `nodeStatus` says `ready` whenever the right image answers and is not
 * tainted, without looking at the stamp's state: a machine whose `postLoad` never ran (stamp
 * `captured`) is handed out as ready. The good provisioner otherwise.
 */
export default breakProvisioner('provisioner-node-status-ignores-stamp-state', (good) => ({
  nodeStatus: async (ctx) => {
    const status = await good.nodeStatus(ctx);
    const stamp = status.stamp;
    const right = stamp?.image === ctx.image?.name && stamp?.revision === ctx.image?.revision;
    if (status.responding && right && stamp?.tainted !== true)
      return { ...status, verdict: 'ready', reason: undefined };
    return status;
  },
}));
