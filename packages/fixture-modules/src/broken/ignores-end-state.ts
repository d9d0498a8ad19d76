import { breakOsModule } from './break-module.js';

/**
 * BROKEN on purpose: `preCapture` ignores `args.endState` and always does the default (power
 * off), although the module declares `on` and `reboot`. It reports honestly what it did.
 */
export default breakOsModule('os-ignores-end-state', (good) => ({
  preCapture: (ctx, { stamp }) => good.preCapture(ctx, { stamp }),
}));
