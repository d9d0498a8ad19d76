import { getEventListeners } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { OperationContext } from '../src/context.js';
import { createOperationContext } from '../src/create-context.js';
import { silentLogger } from '../src/logger.js';
import { runSteps, type Step } from '../src/steps.js';

// Every context that follows another signal must not leave an `abort` listener on it per child:
// a bare-metal load has more than 10 steps, and Node warns from the 11th listener on.

const MANY = 1000;

let warnings: Error[] = [];
const onWarning = (warning: Error): void => {
  warnings.push(warning);
};
beforeEach(() => {
  warnings = [];
  process.on('warning', onWarning);
});
afterEach(() => {
  process.off('warning', onWarning);
});

/** The MaxListenersExceededWarnings emitted so far (Node emits them on the next tick). */
async function listenerWarnings(): Promise<string[]> {
  await new Promise((resolve) => setImmediate(resolve));
  return warnings
    .filter((warning) => warning.name === 'MaxListenersExceededWarning')
    .map((warning) => warning.message);
}

const abortListeners = (signal: AbortSignal): number => getEventListeners(signal, 'abort').length;

function root(signal?: AbortSignal): OperationContext {
  return createOperationContext({
    log: silentLogger,
    deadline: Date.now() + 600_000,
    signal,
    phase: 'load',
  });
}

describe('abort listeners', () => {
  it(`runSteps of ${MANY} steps leaves no abort listener behind on the context's signal`, async () => {
    const ctx = root(new AbortController().signal);
    const before = abortListeners(ctx.signal);
    const during: number[] = [];
    const steps: Step<OperationContext, undefined>[] = Array.from({ length: MANY }, (_, i) => ({
      name: `step-${i}`,
      run: async () => {
        during.push(abortListeners(ctx.signal));
      },
    }));

    await runSteps(ctx, steps, undefined);

    expect(await listenerWarnings()).toEqual([]);
    expect(Math.max(...during)).toBeLessThanOrEqual(before + 1);
    expect(abortListeners(ctx.signal)).toBe(before);
  });

  it(`${MANY} children made directly, with or without a deadline of their own, add at most one listener to the parent`, async () => {
    const controller = new AbortController();
    const ctx = root(controller.signal);
    const children: OperationContext[] = [ctx.child({ phase: 'first' })];
    const afterFirst = abortListeners(ctx.signal);
    for (let i = 0; i < MANY; i += 1) {
      children.push(ctx.child({ phase: `same-deadline-${i}` }));
      children.push(ctx.child({ phase: `own-deadline-${i}`, deadline: ctx.deadline - 1000 - i }));
    }

    expect(await listenerWarnings()).toEqual([]);
    expect(abortListeners(ctx.signal)).toBeLessThanOrEqual(Math.max(afterFirst, 1));

    // Still every child follows the parent's abort, with its reason.
    const reason = new Error('operator pressed stop');
    controller.abort(reason);
    expect(children.every((child) => child.signal.reason === reason)).toBe(true);
  });

  it('removes the shared listener once no child follows the parent any more', () => {
    vi.useFakeTimers();
    try {
      const ctx = root();
      for (let i = 0; i < MANY; i += 1) ctx.child({ phase: `c${i}`, deadline: Date.now() + 1000 });
      expect(abortListeners(ctx.signal)).toBe(1);
      vi.advanceTimersByTime(1000);
      expect(abortListeners(ctx.signal)).toBe(0);
      expect(ctx.signal.aborted).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });

  it(`${MANY} operations on one caller signal add at most one listener to it`, async () => {
    const controller = new AbortController();
    const contexts = Array.from({ length: MANY }, () => root(controller.signal));

    expect(await listenerWarnings()).toEqual([]);
    expect(abortListeners(controller.signal)).toBeLessThanOrEqual(1);

    controller.abort('shutting down');
    expect(contexts.every((ctx) => ctx.signal.reason === 'shutting down')).toBe(true);
  });
});
