import { sleep } from '@vlab/core';
import { breakOsModule } from './break-module.js';

/**
 * BROKEN on purpose: `shutdown` runs `systemctl poweroff` and takes the guest going silent for
 * "off": it polls with `true` until the connection fails. The SSH server stops before the power
 * goes, so it returns with the machine still on. The good OS module otherwise.
 */
export default breakOsModule('os-shutdown-waits-for-silence', () => ({
  async shutdown(ctx) {
    await ctx.communicator.runChecked(['systemctl', 'poweroff'], { signal: ctx.signal });
    for (;;) {
      const answered = await ctx.communicator
        .run(['true'], { signal: ctx.signal, timeoutMs: 1000 })
        .then(
          () => true,
          () => false,
        );
      if (!answered) return;
      await sleep(5, ctx.signal, ctx.computer.name);
    }
  },
}));
