import type { OsContext, PowerProbe } from '@vlab/core';
import { breakOsModule } from './break-module.js';

/** "Off" once the guest no longer answers: power inferred from the network. */
const silence = (ctx: OsContext): PowerProbe => ({
  status: async () =>
    (await ctx.communicator.run(['true'], { signal: ctx.signal }).then(
      () => true,
      () => false,
    ))
      ? 'on'
      : 'off',
});

/**
 * BROKEN on purpose: `preCapture` confirms the power off of end state `off` by the guest going
 * silent instead of through `ctx.power`: it swaps the probe for one that says `off` once the
 * connection fails. It returns while the machine, its SSH server stopped, is still on. The good OS
 * module otherwise.
 */
export default breakOsModule('os-pre-capture-waits-for-silence', (good) => ({
  preCapture: (ctx, args) =>
    good.preCapture(ctx.child({ phase: 'silence', power: silence(ctx) }), args),
}));
