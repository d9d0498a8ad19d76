import { sleep } from '@vlab/core';
import { breakProvisioner } from './break-module.js';
import { machineOf } from './memory-parts.js';

/**
 * BROKEN on purpose: it declares `captureEndState: 'reboot'`, but sets no capture environment to
 * boot into: after `preCapture` it waits until the machine answers again — rebooted into its own
 * OS — and reads the disk of that running guest. The good provisioner otherwise.
 */
export default breakProvisioner('provisioner-capture-reads-rebooted-guest', (good, config) => ({
  capabilities: { ...good.capabilities, captureEndState: 'reboot' },
  capture: (ctx, args) => {
    const { machine } = machineOf(config.lab, ctx);
    const os = {
      ...ctx.os,
      preCapture: (async (c, a) => {
        const result = await ctx.os.preCapture(c, { ...a, endState: 'reboot' });
        while (!machine.reachable) await sleep(5, c.signal, c.computer.name);
        return result;
      }) satisfies typeof ctx.os.preCapture,
    };
    return good.capture({ ...ctx, os }, args);
  },
}));
