import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it, vi } from 'vitest';
import { sleep } from '../src/abort.js';
import type { OperationContext } from '../src/context.js';
import { createOperationContext } from '../src/create-context.js';
import { coreError } from '../src/errors/core-errors.js';
import { isVlabError, type VlabError } from '../src/errors/vlab-error.js';
import { createLogger, type LogRecord } from '../src/logger.js';
import type { ProgressEvent } from '../src/progress.js';
import { runSteps, type Step, type StepOutcome, type StepReport } from '../src/steps.js';

interface Harness {
  readonly ctx: OperationContext;
  readonly records: LogRecord[];
  readonly events: ProgressEvent[];
  readonly controller: AbortController;
}

function harness(phase = 'load'): Harness {
  const records: LogRecord[] = [];
  const events: ProgressEvent[] = [];
  const controller = new AbortController();
  const ctx = createOperationContext({
    log: createLogger((record) => records.push(record)),
    deadline: Date.now() + 60_000,
    signal: controller.signal,
    phase,
    progress: (event) => events.push(event),
  });
  return { ctx, records, events, controller };
}

type Journal = string[];

interface SeenCleanup {
  readonly step: string;
  readonly outcome: StepOutcome;
  readonly aborted: boolean;
  readonly phase: string;
}

function recordingStep(
  name: string,
  journal: Journal,
  cleanups: SeenCleanup[],
  run?: (ctx: OperationContext) => Promise<void>,
): Step<OperationContext, Journal> {
  return {
    name,
    async run(ctx, state) {
      state.push(`run ${name}`);
      journal.push(`phase ${ctx.phase}`);
      await run?.(ctx);
    },
    async cleanup(ctx, state, outcome) {
      state.push(`cleanup ${name}`);
      cleanups.push({ step: name, outcome, aborted: ctx.signal.aborted, phase: ctx.phase });
    },
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

/** A step that succeeds, and whose cleanup throws `error`. */
function failingCleanup(name: string, error: unknown): Step<OperationContext, undefined> {
  return {
    name,
    run: async () => {},
    cleanup: async () => {
      throw error;
    },
  };
}

/** A step whose run throws `thrown`. */
function failingStep(thrown: unknown): Step<OperationContext, undefined> {
  return {
    name: 'fail',
    run: async () => {
      throw thrown;
    },
  };
}

describe('runSteps', () => {
  it('runs the steps in order and reports each as succeeded', async () => {
    const { ctx } = harness();
    const journal: Journal = [];
    const phases: Journal = [];
    const cleanups: SeenCleanup[] = [];
    const steps = ['a', 'b', 'c'].map((name) => recordingStep(name, phases, cleanups));

    const reports = await runSteps(ctx, steps, journal);

    expect(journal).toEqual(['run a', 'run b', 'run c', 'cleanup c', 'cleanup b', 'cleanup a']);
    expect(reports.map((r) => [r.name, r.status, r.cleanup])).toEqual([
      ['a', 'succeeded', 'succeeded'],
      ['b', 'succeeded', 'succeeded'],
      ['c', 'succeeded', 'succeeded'],
    ]);
    expect(cleanups.map((c) => c.outcome)).toEqual(['succeeded', 'succeeded', 'succeeded']);
  });

  it("gives each step a child context whose phase is '<parent>/<step>'", async () => {
    const { ctx } = harness('capture');
    const phases: Journal = [];
    const cleanups: SeenCleanup[] = [];
    await runSteps(
      ctx,
      [recordingStep('snapshot', phases, cleanups), recordingStep('upload', phases, cleanups)],
      [],
    );
    expect(phases).toEqual(['phase capture/snapshot', 'phase capture/upload']);
    expect(cleanups.map((c) => c.phase)).toEqual([
      'capture/upload/cleanup',
      'capture/snapshot/cleanup',
    ]);
  });

  it('reports durations measured around each run', async () => {
    // Fake timers (performance.now included): a loaded machine cannot stretch the fast step.
    vi.useFakeTimers();
    try {
      const { ctx } = harness();
      const seen: StepReport[] = [];
      const running = runSteps(
        ctx,
        [
          {
            name: 'slow',
            run: () => new Promise((resolve) => setTimeout(resolve, 30)),
          },
          { name: 'fast', run: async () => {} },
        ],
        undefined,
        { onStep: (report) => seen.push(report) },
      );
      await vi.advanceTimersByTimeAsync(30);
      const reports = await running;
      const [slow, fast] = reports;
      expect(slow?.durationMs).toBe(30);
      expect(fast?.durationMs).toBe(0);
      // Steps without a cleanup carry no cleanup status.
      expect(slow?.cleanup).toBeUndefined();
      expect(seen.map((r) => [r.name, r.status])).toEqual([
        ['slow', 'succeeded'],
        ['fast', 'succeeded'],
      ]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('reports progress in steps after each succeeded step', async () => {
    const { ctx, events } = harness('load');
    await runSteps(
      ctx,
      [
        { name: 'one', run: async () => {} },
        { name: 'two', run: async () => {} },
      ],
      undefined,
    );
    expect(
      events.map((e) => ({ phase: e.phase, done: e.done, total: e.total, unit: e.unit })),
    ).toEqual([
      { phase: 'load/one', done: 1, total: 2, unit: 'steps' },
      { phase: 'load/two', done: 2, total: 2, unit: 'steps' },
    ]);
  });

  it('stops at a failure, skips later steps and cleans up started steps in reverse with outcome failed', async () => {
    const { ctx } = harness();
    const journal: Journal = [];
    const phases: Journal = [];
    const cleanups: SeenCleanup[] = [];
    const boom = new Error('boom');
    const steps = [
      recordingStep('a', phases, cleanups),
      recordingStep('b', phases, cleanups),
      recordingStep('c', phases, cleanups, async () => {
        throw boom;
      }),
      recordingStep('d', phases, cleanups),
    ];

    const error = await rejection(runSteps(ctx, steps, journal));

    expect(error).toBe(boom);
    expect(journal).toEqual(['run a', 'run b', 'run c', 'cleanup c', 'cleanup b', 'cleanup a']);
    expect(cleanups.map((c) => [c.step, c.outcome])).toEqual([
      ['c', 'failed'],
      ['b', 'failed'],
      ['a', 'failed'],
    ]);
  });

  it('hands onStep a failed report for the failing step and never one for steps not run', async () => {
    const { ctx } = harness();
    const seen: StepReport[] = [];
    await rejection(
      runSteps(
        ctx,
        [
          { name: 'ok', run: async () => {} },
          {
            name: 'bad',
            run: async () => {
              throw new Error('bad');
            },
          },
          { name: 'never', run: async () => {} },
        ],
        undefined,
        { onStep: (report) => seen.push(report) },
      ),
    );
    expect(seen.map((r) => [r.name, r.status])).toEqual([
      ['ok', 'succeeded'],
      ['bad', 'failed'],
    ]);
    expect(seen[1]?.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('attaches failing cleanups to a VlabError failure as details.cleanupErrors', async () => {
    const { ctx } = harness();
    const cleanupError = new Error('could not delete temp image');
    const failure = await rejection(
      runSteps(
        ctx,
        [
          failingCleanup('temp-image', cleanupError),
          failingStep(
            coreError('VLAB_ERR_COMMAND_FAILED', 'qemu-img failed', {
              details: { program: 'qemu-img' },
            }),
          ),
        ],
        undefined,
      ),
    );
    const details = (failure as { details: Record<string, unknown> }).details;
    expect(details['program']).toBe('qemu-img');
    expect(details['cleanupErrors']).toEqual([{ step: 'temp-image', error: cleanupError }]);
  });

  it('attaches failing cleanups to a plain Error failure as details.cleanupErrors, still throwing that Error', async () => {
    const { ctx } = harness();
    const cleanupError = new Error('could not delete temp image');
    const boom = new Error('qemu-img crashed');
    const failure = await rejection(
      runSteps(ctx, [failingCleanup('temp-image', cleanupError), failingStep(boom)], undefined),
    );
    expect(failure).toBe(boom);
    expect((boom as Error & { details?: unknown }).details).toEqual({
      cleanupErrors: [{ step: 'temp-image', error: cleanupError }],
    });
  });

  it('adds to the cleanupErrors a failure already carries, as from a nested runSteps', async () => {
    const { ctx } = harness();
    const inner = new Error('inner cleanup failed');
    const outer = new Error('outer cleanup failed');
    const boom = new Error('boom');
    const failure = await rejection(
      runSteps(
        ctx,
        [
          failingCleanup('outer', outer),
          {
            name: 'nested',
            run: (stepCtx) =>
              runSteps(
                stepCtx,
                [failingCleanup('inner', inner), failingStep(boom)],
                undefined,
              ).then(() => {}),
          },
        ],
        undefined,
      ),
    );
    expect(failure).toBe(boom);
    expect((boom as Error & { details?: Record<string, unknown> }).details).toEqual({
      cleanupErrors: [
        { step: 'inner', error: inner },
        { step: 'outer', error: outer },
      ],
    });
  });

  it('throws a failure it cannot attach cleanup errors to (a string) as it is', async () => {
    const { ctx, records } = harness();
    const cleanupError = new Error('boot flag stuck');
    const failure = await rejection(
      runSteps(
        ctx,
        [
          {
            name: 'flag',
            run: async () => {},
            cleanup: async () => {
              throw cleanupError;
            },
          },
          { name: 'fail', run: () => Promise.reject('no disk') },
        ],
        undefined,
      ),
    );
    expect(failure).toBe('no disk');
    // The cleanup error is not lost: it is logged with its step.
    const logged = records.find((r) => r.message === 'cleanup failed');
    expect(logged?.fields).toMatchObject({ step: 'flag', error: { message: 'boot flag stuck' } });
  });

  it('after an abort mid-step, runs cleanups in a detached context with outcome cancelled and rejects with VLAB_ERR_OP_CANCELLED carrying the reason', async () => {
    const { ctx, controller } = harness();
    const journal: Journal = [];
    const phases: Journal = [];
    const cleanups: SeenCleanup[] = [];
    const reason = new Error('operator pressed stop');
    const steps = [
      recordingStep('a', phases, cleanups),
      recordingStep('b', phases, cleanups, async (stepCtx) => {
        // A well-behaved step waits with the helpers that honour its signal; the abort comes
        // while it waits, at a known point rather than after a race with a timer.
        const waiting = sleep(60_000, stepCtx.signal);
        controller.abort(reason);
        await waiting;
      }),
      recordingStep('c', phases, cleanups),
    ];

    const error = await rejection(runSteps(ctx, steps, journal));

    expect(journal).toEqual(['run a', 'run b', 'cleanup b', 'cleanup a']);
    expect(cleanups).toEqual([
      { step: 'b', outcome: 'cancelled', aborted: false, phase: 'load/b/cleanup' },
      { step: 'a', outcome: 'cancelled', aborted: false, phase: 'load/a/cleanup' },
    ]);
    expect(isVlabError(error, 'VLAB_ERR_OP_CANCELLED')).toBe(true);
    const vlab = error as VlabError;
    expect(vlab.details['reason']).toBe(reason);
    expect(vlab.cause).toBe(reason);
    expect(vlab.message).toContain('operator pressed stop');
  });

  it('when the signal fires between steps, rejects with VLAB_ERR_OP_CANCELLED carrying the reason and names the step not started', async () => {
    const { ctx, controller } = harness();
    const journal: Journal = [];
    const phases: Journal = [];
    const cleanups: SeenCleanup[] = [];
    const steps = [
      recordingStep('a', phases, cleanups, async () => {
        controller.abort('shutting down');
      }),
      recordingStep('b', phases, cleanups),
    ];

    const error = await rejection(runSteps(ctx, steps, journal));

    expect(isVlabError(error, 'VLAB_ERR_OP_CANCELLED')).toBe(true);
    const vlab = error as VlabError;
    expect(vlab.details['reason']).toBe('shutting down');
    expect(vlab.cause).toBe('shutting down');
    expect(vlab.message).toContain('b was cancelled: shutting down');
    expect(journal).toEqual(['run a', 'cleanup a']);
    expect(cleanups).toEqual([
      { step: 'a', outcome: 'cancelled', aborted: false, phase: 'load/a/cleanup' },
    ]);
  });

  it('marks a step that fails because of an abort as cancelled, even if it throws its own error', async () => {
    const { ctx, controller } = harness();
    const cleanups: SeenCleanup[] = [];
    await rejection(
      runSteps(
        ctx,
        [
          recordingStep('a', [], cleanups, async () => {
            controller.abort(new Error('stop'));
            throw new Error('ssh connection closed');
          }),
        ],
        [],
      ),
    );
    expect(cleanups.map((c) => c.outcome)).toEqual(['cancelled']);
  });

  it('runs no step and no cleanup when the signal already fired', async () => {
    const { ctx, controller } = harness();
    controller.abort('early');
    const journal: Journal = [];
    const error = await rejection(runSteps(ctx, [recordingStep('a', [], [])], journal));
    expect(isVlabError(error, 'VLAB_ERR_OP_CANCELLED')).toBe(true);
    expect((error as VlabError).details['reason']).toBe('early');
    expect(journal).toEqual([]);
  });

  it('gives cleanups their own deadline, not the parent one', async () => {
    const records: LogRecord[] = [];
    const ctx = createOperationContext({
      log: createLogger((record) => records.push(record)),
      deadline: Date.now() + 60_000,
      phase: 'load',
    });
    let cleanupDeadline = 0;
    const before = Date.now();
    await runSteps(
      ctx,
      [
        {
          name: 'a',
          run: async () => {},
          cleanup: async (cleanupCtx) => {
            cleanupDeadline = cleanupCtx.deadline;
          },
        },
      ],
      undefined,
      { cleanupTimeoutMs: 1234 },
    );
    expect(cleanupDeadline).toBeGreaterThanOrEqual(before + 1234);
    expect(cleanupDeadline).toBeLessThanOrEqual(Date.now() + 1234);
  });

  it('rejects with VLAB_ERR_STEP_CLEANUP_FAILED when only a cleanup failed, still running the other cleanups', async () => {
    const { ctx, records } = harness();
    const journal: Journal = [];
    const cleanupError = new Error('boot flag stuck');
    const steps: Step<OperationContext, Journal>[] = [
      {
        name: 'first',
        run: async (_ctx, state) => {
          state.push('run first');
        },
        cleanup: async (_ctx, state) => {
          state.push('cleanup first');
        },
      },
      {
        name: 'second',
        run: async (_ctx, state) => {
          state.push('run second');
        },
        cleanup: async (_ctx, state) => {
          state.push('cleanup second');
          throw cleanupError;
        },
      },
    ];

    const error = await rejection(runSteps(ctx, steps, journal));

    expect(isVlabError(error, 'VLAB_ERR_STEP_CLEANUP_FAILED')).toBe(true);
    const vlab = error as VlabError;
    expect(vlab.message).toContain('second');
    expect(vlab.cause).toBe(cleanupError);
    expect(vlab.details['cleanupErrors']).toEqual([{ step: 'second', error: cleanupError }]);
    expect(journal).toEqual(['run first', 'run second', 'cleanup second', 'cleanup first']);
    const logged = records.find((r) => r.message === 'cleanup failed');
    expect(logged?.level).toBe('error');
    expect(logged?.fields['phase']).toBe('load/second/cleanup');
  });

  it('when the deadline passes mid-step, rejects with VLAB_ERR_OP_TIMEOUT and still runs cleanups detached', async () => {
    // Fake timers: the deadline passes exactly while the step waits, never before it started.
    vi.useFakeTimers();
    const ctx = createOperationContext({
      log: createLogger(() => {}),
      deadline: Date.now() + 20,
      phase: 'load',
    });
    const cleanups: SeenCleanup[] = [];
    const outcome = rejection(
      runSteps(
        ctx,
        [
          recordingStep('copy', [], cleanups, async (stepCtx) => {
            await sleep(60_000, stepCtx.signal);
          }),
        ],
        [],
      ),
    );
    try {
      await vi.advanceTimersByTimeAsync(20);
    } finally {
      vi.useRealTimers();
    }
    const error = await outcome;
    expect(isVlabError(error, 'VLAB_ERR_OP_TIMEOUT')).toBe(true);
    expect((error as VlabError).message).toContain('load did not finish by its deadline');
    expect(cleanups).toEqual([
      { step: 'copy', outcome: 'cancelled', aborted: false, phase: 'load/copy/cleanup' },
    ]);
  });

  // Bug (steps.ts, `if (failure !== undefined)` near the end of runSteps): a step that rejects
  // with `undefined` (`Promise.reject()`) is reported as failed and stops the sequence, yet
  // runSteps resolves as if everything succeeded.
  it('rejects when a step rejects without a reason', async () => {
    const { ctx } = harness();
    let laterRan = false;
    const outcome = await runSteps(
      ctx,
      [
        { name: 'a', run: () => Promise.reject(undefined) },
        {
          name: 'b',
          run: async () => {
            laterRan = true;
          },
        },
      ],
      undefined,
    ).then(
      () => 'resolved',
      () => 'rejected',
    );
    expect(laterRan).toBe(false);
    expect(outcome).toBe('rejected');
  });

  // Bug (steps.ts, the catch of the step loop): when the signal fired and the step rejects with
  // something other than a vlab error — here Node's own AbortError (code ABORT_ERR) from
  // `timers/promises`, as fetch, events.once and child_process also give — runSteps passes that
  // error on, so callers checking for VLAB_ERR_OP_CANCELLED miss the cancellation. Expected: with
  // outcome 'cancelled', a non-vlab step error becomes abortError(ctx.signal, …).
  it('rejects with VLAB_ERR_OP_CANCELLED when an aborted step rejects with an AbortError', async () => {
    const { ctx, controller } = harness();
    const reason = new Error('operator pressed stop');
    const error = await rejection(
      runSteps(
        ctx,
        [
          {
            name: 'wait',
            run: async (stepCtx) => {
              const waiting = delay(60_000, undefined, { signal: stepCtx.signal });
              controller.abort(reason);
              await waiting;
            },
          },
        ],
        undefined,
      ),
    );
    expect(isVlabError(error, 'VLAB_ERR_OP_CANCELLED')).toBe(true);
    expect((error as VlabError).details['reason']).toBe(reason);
  });

  it('after an abort, turns a look-alike error (a plain Error with a VLAB_ERR_ code, no brand) into VLAB_ERR_OP_CANCELLED', async () => {
    const { ctx, controller } = harness();
    const lookAlike = Object.assign(new Error('socket closed'), { code: 'VLAB_ERR_SSH_CLOSED' });
    const steps: Step<OperationContext, Journal>[] = [
      {
        name: 'a',
        run: async () => {
          controller.abort('stop');
          throw lookAlike;
        },
      },
    ];
    const error = await rejection(runSteps(ctx, steps, []));
    expect(error).not.toBe(lookAlike);
    expect(isVlabError(error, 'VLAB_ERR_OP_CANCELLED')).toBe(true);
  });

  it('after an abort, passes a real VlabError a step threw through unchanged', async () => {
    const { ctx, controller } = harness();
    const real = coreError('VLAB_ERR_COMMAND_FAILED', 'cp exited with code 1');
    const steps: Step<OperationContext, Journal>[] = [
      {
        name: 'a',
        run: async () => {
          controller.abort('stop');
          throw real;
        },
      },
    ];
    expect(await rejection(runSteps(ctx, steps, []))).toBe(real);
  });
});
