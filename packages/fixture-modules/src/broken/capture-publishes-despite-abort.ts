import { breakProvisioner } from './break-module.js';
import { captureWithSteps } from './memory-parts.js';

/**
 * BROKEN on purpose: the `publish` step reports that it verified the saved image and then
 * publishes it without looking at `ctx.signal` again — an abort that came while it verified is
 * ignored, the revision appears, and `capture` resolves. The good capture otherwise.
 */
export default breakProvisioner('provisioner-capture-publishes-despite-abort', (good, config) => ({
  capture: (ctx, args) =>
    args.mode === 'image'
      ? captureWithSteps(config.lab, ctx, args, (steps) =>
          steps.map((step) =>
            step.name !== 'publish'
              ? step
              : {
                  ...step,
                  run: async (c, s) => {
                    const size = s.data?.length ?? 0;
                    c.progress.report({ done: size, total: size, message: 'verified' });
                    await step.run(c, s);
                  },
                },
          ),
        )
      : good.capture(ctx, args),
}));
