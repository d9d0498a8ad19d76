import { DBOS } from '@dbos-inc/dbos-sdk';
import { isVlabError } from '@vlab/core';
import { recordEvent } from '../database/events.js';
import { type Engine, engine } from './engine.js';

/**
 * How a step that asks a module to act ended: its value, or the error as data. A step's outcome
 * is checkpointed, so a recovered workflow sees the same outcome without asking again.
 */
export type Outcome<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly code: string; readonly message: string };

/** Where a step's event belongs. */
export interface StepScope {
  readonly reservationId?: string | undefined;
  readonly computer?: string | undefined;
}

/**
 * A promise that never settles: what a step returns once the manager began to close. Nothing
 * after that point is recorded; DBOS recovers the workflow at the next start and re-runs the step.
 */
function halted<T>(): Promise<T> {
  return new Promise<T>(() => {});
}

/**
 * Writes the step's one log line, after its event is recorded: `info` when done, `warn` when a
 * module failed (the workflow handles that), `error` when the step itself threw.
 */
function logStep(
  current: Engine,
  step: string,
  scope: StepScope,
  durationMs: number,
  failure?: { readonly code: string; readonly message: string; readonly thrown?: boolean },
): void {
  const fields = {
    reservationId: scope.reservationId,
    computer: scope.computer,
    step,
    outcome: failure === undefined ? 'ok' : 'failed',
    durationMs,
  };
  if (failure === undefined) current.log.info('workflow step done', fields);
  else
    current.log[failure.thrown === true ? 'error' : 'warn']('workflow step failed', {
      ...fields,
      errorCode: failure.code,
      error: failure.message,
    });
}

/** Shows the finished step to the manager's observer, if it has one. */
async function observe(current: Engine, step: string, scope: StepScope): Promise<void> {
  await current.onStepDone?.({
    step,
    reservationId: scope.reservationId,
    computer: scope.computer,
  });
}

/**
 * Runs `run` as a checkpointed DBOS step named `name` that asks a module to act. An error becomes
 * a failed {@link Outcome} (code and message, never a secret: module errors are redacted at their
 * source). Records one event with the duration and the outcome.
 */
export function moduleStep<T>(
  name: string,
  scope: StepScope,
  run: (engine: Engine) => Promise<T>,
): Promise<Outcome<T>> {
  return DBOS.runStep(
    async (): Promise<Outcome<T>> => {
      const current = engine();
      if (current.closing) return halted();
      const started = Date.now();
      let outcome: Outcome<T>;
      try {
        outcome = { ok: true, value: await run(current) };
      } catch (error) {
        if (current.closing) return halted();
        outcome = {
          ok: false,
          code: isVlabError(error) ? error.code : 'VLAB_ERR_MODULE_FAILED',
          message: error instanceof Error ? error.message : String(error),
        };
      }
      if (current.closing) return halted();
      const durationMs = Date.now() - started;
      await recordEvent(current.db, {
        kind: name,
        reservationId: scope.reservationId,
        computer: scope.computer,
        durationMs,
        outcome: outcome.ok ? 'ok' : 'failed',
        errorCode: outcome.ok ? undefined : outcome.code,
        message: outcome.ok ? undefined : outcome.message,
      });
      logStep(current, name, scope, durationMs, outcome.ok ? undefined : outcome);
      await observe(current, name, scope);
      if (current.closing) return halted();
      return outcome;
    },
    { name },
  );
}

/**
 * Runs `run` as a checkpointed DBOS step that only reads or changes the manager's database (one
 * transaction, so a re-run finds it done or not done). Records an event, with the message `event`
 * makes of the value when given.
 */
export function stateStep<T>(
  name: string,
  scope: StepScope,
  run: (engine: Engine) => Promise<T>,
  event?: (value: T) => string | undefined,
): Promise<T> {
  return DBOS.runStep(
    async (): Promise<T> => {
      const current = engine();
      if (current.closing) return halted();
      const started = Date.now();
      const value = await run(current).catch((error: unknown) => {
        if (current.closing) return halted<T>();
        // No event: the transaction rolled back. The line says why the workflow stops here.
        logStep(current, name, scope, Date.now() - started, {
          code: isVlabError(error) ? error.code : 'VLAB_ERR_MANAGER_INTERNAL',
          message: error instanceof Error ? error.message : String(error),
          thrown: true,
        });
        throw error;
      });
      if (current.closing) return halted();
      const durationMs = Date.now() - started;
      await recordEvent(current.db, {
        kind: name,
        reservationId: scope.reservationId,
        computer: scope.computer,
        durationMs,
        outcome: 'ok',
        message: event?.(value),
      });
      logStep(current, name, scope, durationMs);
      await observe(current, name, scope);
      if (current.closing) return halted();
      return value;
    },
    { name },
  );
}
