import { isVlabError, type OperationContext, type Step, VlabError } from '@vlab/core';

/**
 * A step of `runSteps` whose errors name it: a typed error that does not say its step yet is
 * thrown again with the step in its summary and `details.step` (same code, hint and computer,
 * the original as its cause), so an operator reads where a load or capture stopped.
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
        if (!isVlabError(error) || error.details['step'] !== undefined) throw error;
        throw new VlabError(error.code, `step ${name}: ${error.summary}`, {
          computer: error.computer,
          hint: error.hint,
          cause: error,
          details: { ...error.details, step: name },
        });
      }
    },
    ...(cleanup === undefined ? {} : { cleanup }),
  };
}
