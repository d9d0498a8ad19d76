import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { abortError, sleep, throwIfCancelled, untilCancelled } from '../src/abort.js';
import { coreError } from '../src/errors/core-errors.js';
import { isVlabError, type VlabError } from '../src/errors/vlab-error.js';

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

describe('abortError', () => {
  it('keeps a vlab error reason as it is', () => {
    const timeout = coreError('VLAB_ERR_OP_TIMEOUT', 'load did not finish');
    const controller = new AbortController();
    controller.abort(timeout);
    expect(abortError(controller.signal, 'node12', 'load')).toBe(timeout);
  });

  it('wraps any other reason in VLAB_ERR_OP_CANCELLED carrying it', () => {
    const reason = new Error('user hit stop');
    const error = abortError(AbortSignal.abort(reason), 'node12', 'load');
    expect(error.code).toBe('VLAB_ERR_OP_CANCELLED');
    expect(error.cause).toBe(reason);
    expect(error.details['reason']).toBe(reason);
    expect(error.computer).toBe('node12');
    expect(error.message).toContain('load was cancelled: user hit stop');
  });

  it('describes string, missing and odd reasons', () => {
    expect(abortError(AbortSignal.abort('bye')).message).toContain('operation was cancelled: bye');
    const controller = new AbortController();
    controller.abort();
    // The default reason is a DOMException AbortError, described by its message.
    const error = abortError(controller.signal);
    expect(error.details['reason']).toBe(controller.signal.reason);
    expect(abortError(AbortSignal.abort(42)).message).toContain('no reason given');
  });
});

describe('throwIfCancelled', () => {
  it('throws only once the signal fired', () => {
    const controller = new AbortController();
    expect(() => throwIfCancelled(controller.signal)).not.toThrow();
    controller.abort('x');
    let thrown: unknown;
    try {
      throwIfCancelled(controller.signal, 'node12', 'sanitize');
    } catch (error) {
      thrown = error;
    }
    expect(isVlabError(thrown, 'VLAB_ERR_OP_CANCELLED')).toBe(true);
    expect((thrown as VlabError).message).toContain('sanitize was cancelled: x');
  });
});

describe('sleep', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('resolves after the time', async () => {
    let done = false;
    const slept = sleep(1000, new AbortController().signal).then(() => {
      done = true;
    });
    await vi.advanceTimersByTimeAsync(999);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await slept;
    expect(done).toBe(true);
  });

  it('rejects as soon as the signal fires, and clears its timer', async () => {
    const controller = new AbortController();
    const slept = rejection(sleep(60_000, controller.signal, 'node12'));
    await vi.advanceTimersByTimeAsync(10);
    controller.abort('stop');
    const error = await slept;
    expect(isVlabError(error, 'VLAB_ERR_OP_CANCELLED')).toBe(true);
    expect((error as VlabError).details['reason']).toBe('stop');
    expect((error as VlabError).computer).toBe('node12');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects at once on an already fired signal', async () => {
    const timeout = coreError('VLAB_ERR_OP_TIMEOUT', 'late');
    const error = await rejection(sleep(1000, AbortSignal.abort(timeout)));
    expect(error).toBe(timeout);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('untilCancelled', () => {
  it('settles like the work when the signal does not fire', async () => {
    const signal = new AbortController().signal;
    await expect(untilCancelled(Promise.resolve(7), signal)).resolves.toBe(7);
    const failure = new Error('work failed');
    await expect(untilCancelled(Promise.reject(failure), signal)).rejects.toBe(failure);
  });

  it('rejects with the cancel error as soon as the signal fires, while the work still runs', async () => {
    const controller = new AbortController();
    let finish: (value: string) => void = () => {};
    const work = new Promise<string>((resolve) => {
      finish = resolve;
    });
    const waiting = rejection(untilCancelled(work, controller.signal, 'node12'));
    controller.abort('enough');
    const error = await waiting;
    expect(isVlabError(error, 'VLAB_ERR_OP_CANCELLED')).toBe(true);
    expect((error as VlabError).details['reason']).toBe('enough');
    finish('late');
    await expect(work).resolves.toBe('late');
  });

  it('rejects at once on an already fired signal', async () => {
    const error = await rejection(untilCancelled(Promise.resolve(1), AbortSignal.abort('no')));
    expect(isVlabError(error, 'VLAB_ERR_OP_CANCELLED')).toBe(true);
  });
});
