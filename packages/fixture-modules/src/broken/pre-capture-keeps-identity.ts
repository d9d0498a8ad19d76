import { breakOsModule } from './break-module.js';

/**
 * BROKEN on purpose: `preCapture` saves the host key and machine id before generalizing and puts
 * them back afterwards ("so the image boots faster"): the captured disk is not generic.
 */
export default breakOsModule('os-pre-capture-keeps-identity', (good) => ({
  preCapture: async (ctx, args) => {
    const keep = ['/etc/ssh/ssh_host_ed25519_key.pub', '/etc/machine-id'];
    const saved = await Promise.all(
      keep.map((path) => ctx.communicator.get(path, { signal: ctx.signal })),
    );
    const result = await good.preCapture(ctx, { ...args, endState: 'on' });
    for (const [index, path] of keep.entries())
      await ctx.communicator.put(path, saved[index] ?? '', { signal: ctx.signal });
    const endState = args.endState ?? 'off';
    if (endState === 'off') await good.shutdown(ctx);
    if (endState === 'reboot') await good.reboot(ctx);
    return { ...result, endState };
  },
}));
