import { breakProvisioner } from './break-module.js';
import { machineOf } from './memory-parts.js';

/**
 * BROKEN on purpose: `powerOff` hands the request to the BMC and returns at once; the power goes
 * off 50 ms later. Whoever reads the disk next reads a running machine. The good provisioner
 * otherwise.
 */
export default breakProvisioner('provisioner-power-off-returns-early', (_good, config) => ({
  powerOff: async (ctx) => {
    const { machine } = machineOf(config.lab, ctx);
    setTimeout(() => machine.powerOff(), 50);
  },
}));
