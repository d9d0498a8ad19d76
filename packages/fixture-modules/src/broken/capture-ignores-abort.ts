import type { ProvisionerContext } from '@vlab/core';
import { breakProvisioner } from './break-module.js';
import { type CaptureState, type CaptureStep, captureWithSteps } from './memory-parts.js';

/**
 * The steps one after another, with the progress reports `runSteps` makes — but never looking at
 * the signal between them.
 */
async function oneAfterAnother(
  ctx: ProvisionerContext,
  steps: readonly CaptureStep[],
  state: CaptureState,
): Promise<void> {
  for (const [index, step] of steps.entries()) {
    const c = ctx.child({ phase: step.name });
    await step.run(c, state);
    c.progress.report({ done: index + 1, total: steps.length, unit: 'steps', message: step.name });
  }
  for (const step of [...steps].reverse())
    await step.cleanup?.(ctx.child({ phase: `${step.name}/cleanup` }), state, 'succeeded');
}

/**
 * BROKEN on purpose: `capture` runs its steps itself, one after another, without `runSteps` and
 * without looking at `ctx.signal` between them: aborted once `preCapture` is done, it still saves
 * and publishes the image, and resolves. The good steps otherwise.
 */
export default breakProvisioner('provisioner-capture-ignores-abort', (good, config) => ({
  capture: (ctx, args) =>
    args.mode === 'image'
      ? captureWithSteps(config.lab, ctx, args, undefined, oneAfterAnother)
      : good.capture(ctx, args),
}));
