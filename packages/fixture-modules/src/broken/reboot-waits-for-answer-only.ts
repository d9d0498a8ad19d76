import { breakOsModule } from './break-module.js';

/**
 * BROKEN on purpose: `reboot` runs `systemctl reboot` and then waits until the machine answers —
 * without first confirming it went down. The guest still answers for a moment after the command,
 * so it returns before the reboot happened. The good OS module otherwise.
 */
export default breakOsModule('os-reboot-waits-for-answer-only', (good) => ({
  async reboot(ctx, options = {}) {
    await ctx.communicator.runChecked(['systemctl', 'reboot'], { signal: ctx.signal });
    await good.waitForResponse(ctx, { timeoutMs: options.timeoutMs ?? 600_000 });
  },
}));
