import { breakProvisioner } from './break-module.js';
import { machineOf } from './memory-parts.js';

/**
 * BROKEN on purpose: a checkpoint saves the image as the good capture does, then powers the
 * machine on and calls `postLoad` at once, without waiting until the OS answers. Mode `image` and
 * `load` are the good ones.
 */
export default breakProvisioner('provisioner-checkpoint-skips-wait', (good, config) => ({
  capture: async (ctx, args) => {
    if (args.mode !== 'checkpoint') return good.capture(ctx, args);
    const result = await good.capture(ctx, { ...args, mode: 'image' });
    const { machine } = machineOf(config.lab, ctx);
    await ctx.communicator.trustHostKeys([machine.ensureHostKey()], { signal: ctx.signal });
    machine.powerOn();
    await ctx.os.postLoad(ctx.child({ phase: 'postLoad' }));
    return result;
  },
}));
