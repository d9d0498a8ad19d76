import { breakProvisioner } from './break-module.js';
import { captureWithSteps, withoutCleanup } from './memory-parts.js';

/**
 * BROKEN on purpose: the `save-disk` step has no cleanup, so a capture stopped after it saved the
 * disk under its temporary name (`.partial-<image>@<rev>`) — by an abort, say — leaves that
 * temporary image in the store. `listImages` skips `.partial-` entries, so only the store shows
 * it. The good capture otherwise.
 */
export default breakProvisioner('provisioner-capture-keeps-temporary-on-abort', (good, config) => ({
  capture: (ctx, args) =>
    args.mode === 'image'
      ? captureWithSteps(config.lab, ctx, args, (steps) =>
          steps.map((step) => (step.name === 'save-disk' ? withoutCleanup(step) : step)),
        )
      : good.capture(ctx, args),
}));
