import { coreError } from '@vlab/core';
import { breakProvisioner } from './break-module.js';
import { machineOf } from './memory-parts.js';

/**
 * BROKEN on purpose: `powerOff` of a machine that is already off fails, as a strict BMC answers
 * "already off", instead of succeeding: not idempotent. The good provisioner otherwise.
 */
export default breakProvisioner('provisioner-power-off-not-idempotent', (good, config) => ({
  powerOff: async (ctx) => {
    if (machineOf(config.lab, ctx).machine.power === 'off')
      throw coreError('VLAB_ERR_COMMAND_FAILED', 'chassis power off: the machine is already off', {
        computer: ctx.computer.name,
      });
    await good.powerOff(ctx);
  },
}));
