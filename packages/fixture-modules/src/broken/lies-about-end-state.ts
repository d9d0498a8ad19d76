import { breakOsModule } from './break-module.js';

/**
 * BROKEN on purpose: like `ignores-end-state` (`preCapture` always powers off), but it reports the
 * end state it was asked for, so only the machine itself shows the breakage.
 */
export default breakOsModule('os-lies-about-end-state', (good) => ({
  preCapture: async (ctx, { endState, stamp }) => {
    const reached = await good.preCapture(ctx, { stamp });
    return { endState: endState ?? reached.endState };
  },
}));
