import { isVlabError, type OperationContext, type Step, VlabError } from '@vlab/core';

/**
 * A step of `runSteps` whose errors name it: a typed error is thrown again with the step in its
 * summary and `details.step` (same code and hint, the original as its cause; the context's
 * computer when the error names none — a store's error, say), so an operator reads where a load
 * or capture stopped.
 */
export function namedStep<Ctx extends OperationContext, State>(
  name: string,
  run: (ctx: Ctx, state: State) => Promise<void>,
  cleanup?: Step<Ctx, State>['cleanup'],
): Step<Ctx, State> {
  return {
    name,
    async run(ctx, state) {
      try {
        await run(ctx, state);
      } catch (error) {
        if (!isVlabError(error) || error.details['step'] === name) throw error;
        throw new VlabError(error.code, `step ${name}: ${error.summary}`, {
          computer: error.computer ?? (ctx as { computer?: { name?: string } }).computer?.name,
          hint: error.hint,
          cause: error,
          details: { ...error.details, step: name },
        });
      }
    },
    ...(cleanup === undefined ? {} : { cleanup }),
  };
}
