import { sleep } from '@vlab/core';
import { breakProvisioner } from './break-module.js';
import { loadWithSteps } from './memory-parts.js';

/**
 * BROKEN on purpose: aborted while it writes the disk, the `deploy` step first "finishes writing"
 * — it waits 1.5 s, deaf to the signal — before giving up, far beyond the abort bound. The good
 * load otherwise.
 */
export default breakProvisioner('provisioner-load-hangs-on-abort', (_good, config) => ({
  load: (ctx, args) =>
    loadWithSteps(config.lab, ctx, args, (steps) =>
      steps.map((step) =>
        step.name !== 'deploy'
          ? step
          : {
              ...step,
              run: async (c, s) => {
                await step.run(c, s);
                if (c.signal.aborted) await sleep(1500, new AbortController().signal);
              },
            },
      ),
    ),
}));
