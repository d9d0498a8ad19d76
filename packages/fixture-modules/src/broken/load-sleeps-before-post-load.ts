import { sleep } from '@vlab/core';
import { breakProvisioner } from './break-module.js';
import { loadWithSteps, machineOf } from './memory-parts.js';

/**
 * BROKEN on purpose: `load`'s boot step powers the machine on and sleeps a fixed 100 ms instead of
 * waiting until the OS answers ("it has always booted by then"), then calls `postLoad`. The good
 * load otherwise.
 */
export default breakProvisioner('provisioner-load-sleeps-before-post-load', (_good, config) => ({
  load: (ctx, args) =>
    loadWithSteps(config.lab, ctx, args, (steps) =>
      steps.map((step) =>
        step.name !== 'boot'
          ? step
          : {
              name: 'boot',
              run: async (c) => {
                const { machine } = machineOf(config.lab, c);
                await c.communicator.trustHostKeys([machine.ensureHostKey()], { signal: c.signal });
                machine.powerOn();
                await sleep(100, c.signal, c.computer.name);
              },
            },
      ),
    ),
}));
