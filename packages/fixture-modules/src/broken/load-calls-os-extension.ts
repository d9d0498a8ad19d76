import type { OsContext } from '@vlab/core';
import { breakProvisioner } from './break-module.js';

/** The extension os-memory declares. */
type WithMachineId = { readonly machineId?: (ctx: OsContext) => Promise<string> };

/**
 * BROKEN on purpose: after `load` it reads the guest's machine id through the OS module's own
 * extension `machineId` (for its inventory) — an operation os-memory declares, but not one of the
 * contract: a provisioner must work with any OS module. The good provisioner otherwise.
 */
export default breakProvisioner('provisioner-load-calls-os-extension', (good) => ({
  load: async (ctx, args) => {
    const result = await good.load(ctx, args);
    const os = ctx.os as unknown as WithMachineId;
    if (os.machineId !== undefined) {
      const id = await os.machineId(ctx.child({ phase: 'inventory' }));
      ctx.log.info('loaded', { machineId: id });
    }
    return result;
  },
}));
