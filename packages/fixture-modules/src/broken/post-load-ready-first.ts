import { IMAGE_STAMP_PATHS, readyStamp, serializeStamp } from '@vlab/core';
import { breakOsModule } from './break-module.js';

/**
 * BROKEN on purpose: `postLoad` writes the `ready` stamp first and then does its work, so a
 * postLoad that stops half-way leaves a machine that says it is ready and is not.
 */
export default breakOsModule('os-post-load-ready-first', (good) => ({
  postLoad: async (ctx) => {
    const stamp = await good.readStamp(ctx);
    if (stamp !== undefined && stamp.state !== 'ready') {
      await ctx.communicator.put(
        IMAGE_STAMP_PATHS.posix,
        serializeStamp(readyStamp(stamp, ctx.computer.name)),
        { signal: ctx.signal },
      );
      // The good postLoad does the work only for a stamp that is not ready yet: put it back.
      await ctx.communicator.put(IMAGE_STAMP_PATHS.posix, serializeStamp(stamp), {
        signal: ctx.signal,
      });
    }
    return good.postLoad(ctx);
  },
}));
