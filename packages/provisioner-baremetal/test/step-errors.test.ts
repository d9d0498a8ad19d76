import { once } from 'node:events';
import {
  coreError,
  createOperationContext,
  isVlabError,
  namedStep,
  type ProgressEvent,
  runSteps,
  silentLogger,
  TransferWatch,
} from '@vlab/core';
import { describe, expect, it } from 'vitest';

const context = (progress?: (event: ProgressEvent) => void) =>
  createOperationContext({
    log: silentLogger,
    deadline: Date.now() + 60_000,
    phase: 'load',
    progress,
  });

async function failure(work: Promise<unknown>): Promise<unknown> {
  return work.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

describe('namedStep', () => {
  it('names the step in a typed error, keeping code, hint, computer and cause', async () => {
    const original = coreError('VLAB_ERR_POWER_UNCONFIRMED', 'power did not become off', {
      computer: 'c1',
      details: { wanted: 'off' },
    });
    const error = await failure(
      runSteps(context(), [namedStep('boot-deploy', async () => Promise.reject(original))], {}),
    );
    expect(isVlabError(error, 'VLAB_ERR_POWER_UNCONFIRMED')).toBe(true);
    expect(error).toMatchObject({
      computer: 'c1',
      hint: original.hint,
      cause: original,
      details: { wanted: 'off', step: 'boot-deploy' },
    });
    expect(String((error as Error).message)).toContain(
      'step boot-deploy: power did not become off',
    );
  });

  it('leaves an error that names its step already, and a foreign error, as they are', async () => {
    const named = coreError('VLAB_ERR_IMAGE_CORRUPT', 'sums differ', {
      details: { step: 'publish' },
    });
    const foreign = new Error('not ours');
    for (const thrown of [named, foreign]) {
      const error = await failure(
        runSteps(context(), [namedStep('publish', async () => Promise.reject(thrown))], {}),
      );
      expect(error).toBe(thrown);
    }
  });
});

describe('TransferWatch', () => {
  it('stops a transfer that moves no byte with VLAB_ERR_OP_TIMEOUT naming the computer and step', async () => {
    using watch = new TransferWatch(context(), 'c1', 'writing the disk', 20, 100);
    watch.moved(10);
    await once(watch.signal, 'abort');
    expect(isVlabError(watch.idleReason, 'VLAB_ERR_OP_TIMEOUT')).toBe(true);
    expect(watch.idleReason).toMatchObject({
      computer: 'c1',
      details: { idleMs: 20, bytes: 10 },
    });
    expect(String(watch.idleReason)).toContain('writing the disk: no byte moved for 20 ms');
  });

  it('reports at each quarter of the total, the same points whatever the chunks', () => {
    for (const chunk of [1, 7, 64, 1000]) {
      const events: ProgressEvent[] = [];
      const watch = new TransferWatch(
        context((e) => events.push(e)),
        'c1',
        'writing',
        60_000,
        1000,
      );
      for (let sent = 0; sent < 1000; sent += chunk) watch.moved(Math.min(chunk, 1000 - sent));
      watch.finish();
      expect(events).toHaveLength(4);
      expect(events.at(-1)).toMatchObject({ done: 1000, total: 1000 });
    }
  });

  it('reports the bytes at the end, with their total', () => {
    const events: ProgressEvent[] = [];
    const watch = new TransferWatch(
      context((e) => events.push(e)),
      'c1',
      'reading',
      60_000,
      300,
    );
    watch.moved(100);
    watch.moved(200);
    watch.finish();
    expect(events.at(-1)).toMatchObject({ unit: 'bytes', done: 300, total: 300 });
    expect(watch.signal.aborted).toBe(false);
  });
});
