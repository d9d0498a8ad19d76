import { sleep } from '@vlab/core';
import { breakProvisioner } from './break-module.js';
import { captureWithSteps } from './memory-parts.js';

/**
 * BROKEN on purpose: aborted while it saves the disk, `save-disk` first "lets the copy finish" —
 * it waits 1.5 s, deaf to the signal — before giving up, far beyond the abort bound. The good
 * capture otherwise.
 */
export default breakProvisioner('provisioner-capture-hangs-on-abort', (good, config) => ({
  capture: (ctx, args) =>
    args.mode === 'image'
      ? captureWithSteps(config.lab, ctx, args, (steps) =>
          steps.map((step) =>
            step.name !== 'save-disk'
              ? step
              : {
                  ...step,
                  run: async (c, s) => {
                    await step.run(c, s);
                    if (c.signal.aborted) await sleep(1500, new AbortController().signal);
                  },
                },
          ),
        )
      : good.capture(ctx, args),
}));
