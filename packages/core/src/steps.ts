import { abortError } from './abort.js';
import type { OperationContext } from './context.js';
import { coreError } from './errors/core-errors.js';
import { isVlabError, VlabError } from './errors/vlab-error.js';
import { keepProcessAlive } from './keep-alive.js';

/** How a step sequence ended, as cleanups see it. @public */
export type StepOutcome = 'succeeded' | 'failed' | 'cancelled';

/**
 * One named step of a provisioner's load or capture sequence (Packer's multistep).
 * `run` does the work; `cleanup`, if any, undoes what only this step made (a temporary image, a
 * one-time boot flag) and must be idempotent. @public
 */
export interface Step<Ctx extends OperationContext, State> {
  /** Names the step's phase in logs and progress. */
  readonly name: string;
  /** Does the step's work; honours `ctx.signal`. */
  run(ctx: Ctx, state: State): Promise<void>;
  /** Runs after the sequence ends — success, error or abort — for every step whose `run` started. */
  cleanup?(ctx: Ctx, state: State, outcome: StepOutcome): Promise<void>;
}

/** What happened to one step. @public */
export interface StepReport {
  /** The step's name. */
  readonly name: string;
  /** `failed` when its `run` threw or was cut short by an abort; `not-run` when the sequence stopped before it. */
  readonly status: 'succeeded' | 'failed' | 'not-run';
  /** How long its `run` took, in milliseconds; 0 when it did not run. */
  readonly durationMs: number;
  /** How its cleanup went; absent when it has none or its `run` never started. */
  readonly cleanup?: 'succeeded' | 'failed' | undefined;
}

/** Options of {@link runSteps}. @public */
export interface RunStepsOptions {
  /** How long each cleanup may take, even after an abort. Default: 60000. */
  readonly cleanupTimeoutMs?: number;
  /** Receives the report of every step as it ends. */
  readonly onStep?: (report: StepReport) => void;
}

/**
 * Runs `steps` in order, each in a child context named after it; stops at the first failure or
 * when the signal fires. Then runs the cleanups of every started step in reverse order, each in a
 * detached context (an abort does not stop cleanups; their own timeout does). Resolves with one
 * report per step; rejects with the step's error (or the cancel error), to which failed cleanups
 * are attached as `details.cleanupErrors`. If only cleanups failed, rejects with
 * `VLAB_ERR_STEP_CLEANUP_FAILED`.
 *
 * @remarks
 * Whatever failed first is what it rejects with, as it was thrown, VlabError or not. The failed
 * cleanups, each as `{ step, error }` in the order they ran, are added to its
 * `details.cleanupErrors` (after any it already carries, from a nested `runSteps`): into its
 * `details` object, or a new `details` when it has none. A failure that cannot carry them (a
 * string, a frozen error, a `details` that is not an object) is thrown without them. Every
 * cleanup error is also logged as `cleanup failed`.
 *
 * A step's context shares the sequence's signal, so any number of steps add no `abort` listener.
 * Until it settles, `runSteps` keeps the process alive: a step waiting only on its deadline ends
 * with `VLAB_ERR_OP_TIMEOUT` under plain `node` too, rather than the process exiting mid-step.
 * @param state - Shared by every step's `run` and `cleanup`; steps pass results on through it.
 * @public
 */
export async function runSteps<Ctx extends OperationContext, State>(
  ctx: Ctx,
  steps: readonly Step<Ctx, State>[],
  state: State,
  options: RunStepsOptions = {},
): Promise<readonly StepReport[]> {
  const release = keepProcessAlive();
  try {
    return await runInOrder(ctx, steps, state, options);
  } finally {
    release();
  }
}

async function runInOrder<Ctx extends OperationContext, State>(
  ctx: Ctx,
  steps: readonly Step<Ctx, State>[],
  state: State,
  options: RunStepsOptions,
): Promise<readonly StepReport[]> {
  const cleanupTimeoutMs = options.cleanupTimeoutMs ?? 60_000;
  const reports: StepReport[] = steps.map((step) => ({
    name: step.name,
    status: 'not-run',
    durationMs: 0,
  }));
  const started: number[] = [];
  let failed = false;
  let failure: unknown;
  let outcome: StepOutcome = 'succeeded';

  for (const [index, step] of steps.entries()) {
    if (ctx.signal.aborted) {
      failed = true;
      failure = abortError(ctx.signal, undefined, step.name);
      outcome = 'cancelled';
      break;
    }
    started.push(index);
    const began = performance.now();
    // Every context kind's child is of the same kind (see OperationContext.child).
    const stepCtx = ctx.child({ phase: step.name }) as Ctx;
    stepCtx.log.info('step started', { step: step.name, index: index + 1, of: steps.length });
    try {
      await step.run(stepCtx, state);
      reports[index] = {
        name: step.name,
        status: 'succeeded',
        durationMs: performance.now() - began,
      };
      stepCtx.log.info('step finished', {
        step: step.name,
        durationMs: Math.round(reports[index].durationMs),
      });
      stepCtx.progress.report({
        done: index + 1,
        total: steps.length,
        unit: 'steps',
        message: step.name,
      });
    } catch (error) {
      reports[index] = { name: step.name, status: 'failed', durationMs: performance.now() - began };
      stepCtx.log.warn('step failed', { step: step.name, error });
      failed = true;
      // A step cut short by the abort may reject with whatever its I/O threw (Node's AbortError):
      // the caller must still see the typed cancel error.
      failure =
        ctx.signal.aborted && !isVlabError(error)
          ? abortError(ctx.signal, undefined, step.name)
          : error;
      outcome = ctx.signal.aborted ? 'cancelled' : 'failed';
      break;
    } finally {
      options.onStep?.(reports[index] as StepReport);
    }
  }

  const cleanupErrors: CleanupError[] = [];
  for (const index of started.reverse()) {
    const step = steps[index] as Step<Ctx, State>;
    if (step.cleanup === undefined) continue;
    const cleanupCtx = ctx.child({
      phase: `${step.name}/cleanup`,
      deadline: Date.now() + cleanupTimeoutMs,
      detached: true,
    }) as Ctx;
    const report = reports[index] as StepReport;
    try {
      await step.cleanup(cleanupCtx, state, outcome);
      reports[index] = { ...report, cleanup: 'succeeded' };
    } catch (error) {
      cleanupCtx.log.error('cleanup failed', { step: step.name, error });
      cleanupErrors.push({ step: step.name, error });
      reports[index] = { ...report, cleanup: 'failed' };
    }
  }

  if (failed) {
    if (cleanupErrors.length > 0) attachCleanupErrors(failure, cleanupErrors);
    throw failure;
  }
  if (cleanupErrors.length > 0) {
    throw coreError(
      'VLAB_ERR_STEP_CLEANUP_FAILED',
      `cleanup of ${cleanupErrors.map((c) => c.step).join(', ')} failed`,
      { details: { cleanupErrors }, cause: cleanupErrors[0]?.error },
    );
  }
  return reports;
}

type CleanupError = { readonly step: string; readonly error: unknown };

/**
 * Adds `cleanupErrors` to `failure.details.cleanupErrors`, after any it already carries (a nested
 * runSteps' own); gives an object failure without `details` a new one. Leaves alone what cannot
 * carry them — see runSteps' remarks.
 */
function attachCleanupErrors(failure: unknown, cleanupErrors: readonly CleanupError[]): void {
  if ((typeof failure !== 'object' && typeof failure !== 'function') || failure === null) return;
  const holder = failure as { details?: unknown };
  try {
    if (holder.details === undefined) {
      holder.details = { cleanupErrors: [...cleanupErrors] };
    } else if (typeof holder.details === 'object' && holder.details !== null) {
      const details = holder.details as Record<string, unknown>;
      const earlier = Array.isArray(details['cleanupErrors']) ? details['cleanupErrors'] : [];
      details['cleanupErrors'] = [...earlier, ...cleanupErrors];
    }
  } catch {
    // A frozen error or details: it is thrown without them; they are logged already.
  }
}

/**
 * A step of {@link runSteps} whose errors name it: a typed error is thrown again with the step in
 * its summary and `details.step` (same code and hint, the original as its cause; the context's
 * computer when the error names none — a store's error, say), so an operator reads where a load
 * or capture stopped.
 * @public
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
