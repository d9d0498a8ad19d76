import type { OsContext } from '@vlab/core';
import { breakOsModule } from './break-module.js';

/**
 * BROKEN on purpose: every operation the kit's abort checks cover (`postLoad`, `reserve`,
 * `sanitize`, `preCapture`, `waitForResponse`) ignores `ctx.signal` — the good operation runs
 * with a signal that never fires, so on a stalled machine it waits until the machine recovers
 * (or the communicator's own unref'd 60 s timeout), however long ago the caller cancelled.
 */
// The context with the caller's signal (and its deadline) swapped for one nobody fires.
const deaf = (ctx: OsContext): OsContext => ({ ...ctx, signal: new AbortController().signal });

/**
 * BROKEN on purpose: every operation the kit's abort checks cover (`postLoad`, `reserve`,
 * `sanitize`, `preCapture`, `waitForResponse`) ignores `ctx.signal` — the good operation runs
 * with a signal that never fires, so on a stalled machine it waits until the machine recovers
 * (or the communicator's own unref'd 60 s timeout), however long ago the caller cancelled.
 */

export default breakOsModule('os-hangs-on-abort', (good) => ({
  postLoad: (ctx) => good.postLoad(deaf(ctx)),
  reserve: (ctx, args) => good.reserve(deaf(ctx), args),
  sanitize: (ctx) => good.sanitize(deaf(ctx)),
  preCapture: (ctx, args) => good.preCapture(deaf(ctx), args),
  waitForResponse: (ctx, options) => good.waitForResponse(deaf(ctx), options),
}));
