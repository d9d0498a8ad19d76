import type { OsContext } from '@vlab/core';
import { breakProvisioner } from './break-module.js';

/** What a provisioner written for a retired contract expects of the OS module. */
type RetiredOs = { readonly captureStart?: (ctx: OsContext) => Promise<void> };

/**
 * BROKEN on purpose: written for a retired contract, `capture` calls the OS module's old
 * `captureStart` after `preCapture` whenever the module has one — an operation the contract no
 * longer has. The good provisioner otherwise.
 */
export default breakProvisioner('provisioner-calls-capture-start', (good) => ({
  capture: (ctx, args) => {
    const os = {
      ...ctx.os,
      preCapture: (async (c, a) => {
        const result = await ctx.os.preCapture(c, a);
        const retired = ctx.os as unknown as RetiredOs;
        if (typeof retired.captureStart === 'function') await retired.captureStart(c);
        return result;
      }) satisfies typeof ctx.os.preCapture,
    };
    return good.capture({ ...ctx, os }, args);
  },
}));
