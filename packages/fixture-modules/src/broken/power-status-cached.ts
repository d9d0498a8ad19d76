import type { PowerState } from '@vlab/core';
import { breakProvisioner } from './break-module.js';

/**
 * BROKEN on purpose: `powerStatus` asks the BMC once per computer and then answers from memory,
 * updated only by its own `powerOn` and `powerOff`: a machine that shut itself down (or was
 * switched by someone else) is still reported on. The good provisioner otherwise.
 */
export default breakProvisioner('provisioner-power-status-cached', (good) => {
  const known = new Map<string, PowerState>();
  return {
    powerStatus: async (ctx) => {
      const cached = known.get(ctx.computer.name);
      if (cached !== undefined) return cached;
      const power = await good.powerStatus(ctx);
      known.set(ctx.computer.name, power);
      return power;
    },
    powerOn: async (ctx) => {
      await good.powerOn(ctx);
      known.set(ctx.computer.name, 'on');
    },
    powerOff: async (ctx) => {
      await good.powerOff(ctx);
      known.set(ctx.computer.name, 'off');
    },
  };
});
