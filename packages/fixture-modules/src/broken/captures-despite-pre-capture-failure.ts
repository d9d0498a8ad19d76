import { breakProvisioner } from './break-module.js';
import { machineOf } from './memory-parts.js';

/**
 * BROKEN on purpose: when `preCapture` fails, `capture` logs a warning, powers the machine off
 * itself and captures anyway — publishing an image that was never (or only half) generalized. The
 * good provisioner otherwise.
 */
export default breakProvisioner(
  'provisioner-captures-despite-pre-capture-failure',
  (good, config) => ({
    capture: (ctx, args) => {
      const os = {
        ...ctx.os,
        preCapture: (async (c, a) => {
          try {
            return await ctx.os.preCapture(c, a);
          } catch (error) {
            c.log.warn('preCapture failed; capturing anyway', { error });
            machineOf(config.lab, c).machine.powerOff();
            return { endState: 'off' as const };
          }
        }) satisfies typeof ctx.os.preCapture,
      };
      return good.capture({ ...ctx, os }, args);
    },
  }),
);
