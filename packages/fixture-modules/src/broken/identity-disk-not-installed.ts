import { breakOsModule } from './break-module.js';

/** The good module's identity unit (the memory machine reads its presence at boot). */
const IDENTITY_UNIT = '/etc/systemd/system/vlab-identity.service';

/**
 * BROKEN on purpose: declares the `identityDisk` feature, but its `preCapture` removes the boot
 * unit again (a clean-up that cleans too much) and leaves a host key of its own in the image, so a
 * captured image ignores its identity disk and its first contact cannot be trusted.
 */
export default breakOsModule('os-identity-disk-not-installed', (good) => ({
  preCapture: async (ctx, args) => {
    const endState = args.endState ?? 'off';
    // Generalize and write the stamp but stay on, remove the unit, then reach the end state.
    await good.preCapture(ctx, { ...args, endState: 'on' });
    await ctx.communicator.runChecked(['rm', '-f', IDENTITY_UNIT], { signal: ctx.signal });
    await ctx.communicator.runChecked(['ssh-keygen', '-A'], { signal: ctx.signal });
    if (endState === 'off') await good.shutdown(ctx);
    if (endState === 'reboot') await good.reboot(ctx);
    return { endState };
  },
}));
