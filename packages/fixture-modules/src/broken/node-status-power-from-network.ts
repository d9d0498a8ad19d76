import { breakProvisioner } from './break-module.js';

/**
 * BROKEN on purpose: `nodeStatus` reports `power` from whether the OS answers rather than from
 * the BMC: a machine that is on but still booting is reported off. The good provisioner otherwise.
 */
export default breakProvisioner('provisioner-node-status-power-from-network', (good) => ({
  nodeStatus: async (ctx) => {
    const status = await good.nodeStatus(ctx);
    return { ...status, power: status.responding ? 'on' : 'off' };
  },
}));
