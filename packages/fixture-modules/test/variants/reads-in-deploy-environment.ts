import { sleep } from '@vlab/core';
import { MemoryLab } from '@vlab/core/testing';
import { breakProvisioner } from '../../src/broken/break-module.js';

/**
 * RIGHT, for contrast with the broken modules: a bare-metal style capture. It declares
 * `captureEndState: 'reboot'`, sets the machine's next boot to the deploy environment (a one-time
 * PXE boot) before `preCapture`, and reads the disk there — power on, but no guest running — then
 * powers the machine off. The kit must pass it.
 */
export default breakProvisioner('provisioner-reads-in-deploy-environment', (good, config) => ({
  capabilities: { ...good.capabilities, captureEndState: 'reboot' },
  capture: async (ctx, args) => {
    const machine = MemoryLab.find(config.lab).machine(ctx.computer.name);
    const os = {
      ...ctx.os,
      preCapture: (async (c, a) => {
        machine.nextBoot = 'deploy';
        const result = await ctx.os.preCapture(c, { ...a, endState: 'reboot' });
        // The machine went down; wait (asking the BMC) until it is up in the deploy environment.
        while (machine.power !== 'on') await sleep(5, c.signal, c.computer.name);
        return result;
      }) satisfies typeof ctx.os.preCapture,
    };
    try {
      return await good.capture({ ...ctx, os }, args);
    } finally {
      // Mode image leaves the machine off (a checkpoint booted it again into its OS).
      if (args.mode === 'image') machine.powerOff();
    }
  },
}));
