import { breakProvisioner } from './break-module.js';
import { loadWithSteps, machineOf } from './memory-parts.js';

/**
 * BROKEN on purpose: `load`'s boot step powers the machine on and goes straight on to `postLoad`,
 * without waiting until the OS answers ("postLoad connects anyway"). A booting machine refuses the
 * connection. The good load otherwise.
 */
export default breakProvisioner('provisioner-load-skips-wait', (_good, config) => ({
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
              },
            },
      ),
    ),
}));
