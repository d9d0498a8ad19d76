import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type PowerProbe, waitForPowerState } from '../src/power.js';
import { scriptedProbe } from './power-fakes.js';
import { rejection } from './rejection.js';

describe('waitForPowerState', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('resolves as soon as the probe reports the wanted state, passing the signal', async () => {
    const { probe, calls } = scriptedProbe(['on', 'on', 'off']);
    const signal = new AbortController().signal;
    const done = waitForPowerState(probe, 'off', { signal, intervalMs: 100, timeoutMs: 10_000 });
    await vi.advanceTimersByTimeAsync(200);
    await expect(done).resolves.toBeUndefined();
    expect(calls.status).toHaveLength(3);
    expect(calls.status.every((s) => s === signal)).toBe(true);
  });

  it('resolves without waiting when the state is already right', async () => {
    const { probe, calls } = scriptedProbe(['on']);
    await waitForPowerState(probe, 'on', { signal: new AbortController().signal });
    expect(calls.status).toHaveLength(1);
  });

  it('times out with VLAB_ERR_POWER_UNCONFIRMED naming the last state seen', async () => {
    const { probe, calls } = scriptedProbe(['on', 'on', 'unknown']);
    const done = rejection(
      waitForPowerState(probe, 'off', {
        signal: new AbortController().signal,
        intervalMs: 1000,
        timeoutMs: 5000,
        computer: 'node12',
      }),
    );
    await vi.advanceTimersByTimeAsync(10_000);
    const error = await done;
    expect(error.code).toBe('VLAB_ERR_POWER_UNCONFIRMED');
    expect(error.computer).toBe('node12');
    expect(error.message).toContain('last seen: unknown');
    expect(error.message).toContain('off');
    expect(error.message).toContain('node12');
    expect(error.details).toMatchObject({ wanted: 'off', last: 'unknown', timeoutMs: 5000 });
    // Polled at 0, 1, 2, 3, 4 and 5 s, no more.
    expect(calls.status.length).toBeGreaterThanOrEqual(5);
    expect(calls.status.length).toBeLessThanOrEqual(6);
  });

  it('rejects with VLAB_ERR_OP_CANCELLED when the signal fires while waiting', async () => {
    const { probe } = scriptedProbe(['on']);
    const controller = new AbortController();
    const done = rejection(
      waitForPowerState(probe, 'off', {
        signal: controller.signal,
        intervalMs: 1000,
        computer: 'node12',
      }),
    );
    await vi.advanceTimersByTimeAsync(2500);
    controller.abort('operator stop');
    const error = await done;
    expect(error.code).toBe('VLAB_ERR_OP_CANCELLED');
    expect(error.details['reason']).toBe('operator stop');
    expect(error.computer).toBe('node12');
  });

  it('does not probe at all when the signal already fired', async () => {
    const { probe, calls } = scriptedProbe(['off']);
    const error = await rejection(
      waitForPowerState(probe, 'off', { signal: AbortSignal.abort(new Error('gone')) }),
    );
    expect(error.code).toBe('VLAB_ERR_OP_CANCELLED');
    expect(error.message).toContain('waiting for power off was cancelled: gone');
    expect(calls.status).toHaveLength(0);
  });

  it('lets a probe error through', async () => {
    const failure = new Error('bmc unreachable');
    const probe: PowerProbe = {
      status: async () => {
        throw failure;
      },
    };
    await expect(
      waitForPowerState(probe, 'off', { signal: new AbortController().signal }),
    ).rejects.toBe(failure);
  });
});
