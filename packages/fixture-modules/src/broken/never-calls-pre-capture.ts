import { breakProvisioner } from './break-module.js';

/**
 * BROKEN on purpose: `capture` saves the disk without ever calling `ctx.os.preCapture`, so the
 * image keeps the reservation's accounts, host keys and machine id, and is read while running.
 * The good provisioner, handed an OS module whose `preCapture` is skipped.
 */
export default breakProvisioner('provisioner-never-calls-pre-capture', (good) => ({
  capture: (ctx, args) => {
    const os = {
      ...ctx.os,
      // Pretends the guest is ready without asking it.
      preCapture: async () => ({ endState: good.capabilities.captureEndState }),
    };
    return good.capture({ ...ctx, os }, args);
  },
}));
