import type { PowerProbe } from '@vlab/core';
import { breakOsModule } from './break-module.js';

/** Says `off` once 100 ms have passed since it was first asked: a fixed wait dressed as a probe. */
const fixedWait = (): PowerProbe => {
  let first: number | undefined;
  return {
    status: async () => {
      first ??= Date.now();
      return Date.now() - first >= 100 ? 'off' : 'on';
    },
  };
};

/**
 * BROKEN on purpose: `preCapture` "confirms" the power off of end state `off` by waiting a fixed
 * 100 ms after `systemctl poweroff` rather than asking `ctx.power`. The good OS module otherwise.
 */
export default breakOsModule('os-pre-capture-sleeps', (good) => ({
  preCapture: (ctx, args) =>
    good.preCapture(ctx.child({ phase: 'fixed-wait', power: fixedWait() }), args),
}));
