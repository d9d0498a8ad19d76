import { breakOsModule } from './break-module.js';

/**
 * BROKEN on purpose: `reboot` runs `systemctl reboot` and returns: the machine has not gone down
 * yet, let alone come back. The good OS module otherwise.
 */
export default breakOsModule('os-reboot-returns-at-once', () => ({
  async reboot(ctx) {
    await ctx.communicator.runChecked(['systemctl', 'reboot'], { signal: ctx.signal });
  },
}));
