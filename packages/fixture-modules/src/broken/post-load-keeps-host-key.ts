import { IMAGE_STAMP_PATHS, readyStamp, serializeStamp } from '@vlab/core';
import { breakOsModule } from './break-module.js';

/**
 * BROKEN on purpose: `postLoad` sets the host name and writes the stamp but keeps the image's
 * host key and machine id, so every machine loaded from the image shares them.
 */
export default breakOsModule('os-post-load-keeps-host-key', (good) => ({
  postLoad: async (ctx) => {
    const stamp = await good.readStamp(ctx);
    if (stamp === undefined) return good.postLoad(ctx);
    if (stamp.state === 'ready') return { changed: false, stamp };
    await ctx.communicator.runChecked(['hostnamectl', 'set-hostname', ctx.computer.hostname], {
      signal: ctx.signal,
    });
    const ready = readyStamp(stamp, ctx.computer.name);
    await ctx.communicator.put(IMAGE_STAMP_PATHS.posix, serializeStamp(ready), {
      signal: ctx.signal,
    });
    return { changed: true, stamp: ready };
  },
}));
