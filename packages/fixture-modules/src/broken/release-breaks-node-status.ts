import { coreError } from '@vlab/core';
import { breakProvisioner } from './break-module.js';

/**
 * BROKEN on purpose: `release` forgets the machine (as if its VM definition were gone for good),
 * and `nodeStatus` then throws instead of answering — the manager can no longer tell that the
 * machine needs a reload.
 */
export default breakProvisioner('provisioner-release-breaks-node-status', (good) => {
  let released = false;
  return {
    release: async (ctx) => {
      await good.release?.(ctx);
      released = true;
    },
    nodeStatus: async (ctx) => {
      if (released)
        throw coreError('VLAB_ERR_COMPUTER_UNREACHABLE', 'the machine has no definition', {
          computer: ctx.computer.name,
        });
      return good.nodeStatus(ctx);
    },
  };
});
