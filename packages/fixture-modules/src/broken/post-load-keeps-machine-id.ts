import { breakOsModule } from './break-module.js';

/**
 * BROKEN on purpose: `postLoad` rotates the host key but puts the image's machine id back, so
 * every machine loaded from the image shares it.
 */
export default breakOsModule('os-post-load-keeps-machine-id', (good) => ({
  postLoad: async (ctx) => {
    const image = await ctx.communicator.get('/etc/machine-id', { signal: ctx.signal });
    const result = await good.postLoad(ctx);
    await ctx.communicator.put('/etc/machine-id', image, { signal: ctx.signal });
    return result;
  },
}));
