import type { OsContext, PowerProbe } from '@vlab/core';
import { breakProvisioner } from './break-module.js';

/** "Off" once the guest no longer answers: power inferred from the network. */
const connectionProbe = (ctx: OsContext): PowerProbe => ({
  status: async () => {
    const answered = await ctx.communicator.run(['true'], { signal: ctx.signal }).then(
      () => true,
      () => false,
    );
    return answered ? 'on' : 'off';
  },
});

/**
 * BROKEN on purpose: `capture` hands `preCapture` a power probe that says `off` once the guest
 * stops answering — but the SSH server stops well before the power goes, so the disk is read while
 * the guest is still shutting down with the power on. The good provisioner otherwise.
 */
export default breakProvisioner('provisioner-capture-probe-from-connection', (good) => ({
  capture: (ctx, args) => {
    const os = {
      ...ctx.os,
      preCapture: ((c, a) =>
        ctx.os.preCapture(
          c.child({ phase: 'connection-probe', power: connectionProbe(c) }),
          a,
        )) satisfies typeof ctx.os.preCapture,
    };
    return good.capture({ ...ctx, os }, args);
  },
}));
