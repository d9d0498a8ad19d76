import { breakProvisioner } from './break-module.js';
import { machineOf } from './memory-parts.js';

/**
 * BROKEN on purpose: `powerStatus` infers power from the network — `on` when the guest answers,
 * `off` when it does not — so a machine that is on but still booting (or shutting down, or hung)
 * is reported off. The good provisioner otherwise.
 */
export default breakProvisioner('provisioner-power-status-from-network', (_good, config) => ({
  powerStatus: async (ctx) => {
    const { lab } = machineOf(config.lab, ctx);
    const answered = await lab
      .communicator(ctx.computer.name)
      .run(['true'], { signal: ctx.signal, timeoutMs: 1000 })
      .then(
        () => true,
        () => false,
      );
    return answered ? 'on' : 'off';
  },
}));
