import { breakProvisioner } from './break-module.js';

/**
 * BROKEN on purpose: when `preCapture` fails, `capture` simply calls it again ("a transient
 * error"), generalizing a half-generalized machine a second time. The contract says exactly once.
 * The good provisioner otherwise.
 */
export default breakProvisioner('provisioner-retries-pre-capture', (good) => ({
  capture: (ctx, args) => {
    const os = {
      ...ctx.os,
      preCapture: (async (c, a) => {
        try {
          return await ctx.os.preCapture(c, a);
        } catch (error) {
          c.log.warn('preCapture failed; trying once more', { error });
          return ctx.os.preCapture(c, a);
        }
      }) satisfies typeof ctx.os.preCapture,
    };
    return good.capture({ ...ctx, os }, args);
  },
}));
