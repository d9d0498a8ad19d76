import { sleep } from '@vlab/core';
import { breakOsModule } from './break-module.js';

/**
 * BROKEN on purpose: `shutdown` runs `systemctl poweroff` and then sleeps a fixed 200 ms instead
 * of confirming the power off through `ctx.power` — "it is always off by then". The good OS module
 * otherwise.
 */
export default breakOsModule('os-shutdown-sleeps', () => ({
  async shutdown(ctx) {
    await ctx.communicator.runChecked(['systemctl', 'poweroff'], { signal: ctx.signal });
    await sleep(200, ctx.signal, ctx.computer.name);
  },
}));
