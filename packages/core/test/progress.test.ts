import { describe, expect, it, vi } from 'vitest';
import { createProgressReporter, type ProgressEvent } from '../src/progress.js';

function clocked(options: { rateWindowMs?: number; start?: number } = {}) {
  let time = options.start ?? 1000;
  const events: ProgressEvent[] = [];
  const reporter = createProgressReporter((event) => events.push(event), {
    phase: 'load/copy',
    computer: 'node12',
    now: () => time,
    ...(options.rateWindowMs === undefined ? {} : { rateWindowMs: options.rateWindowMs }),
  });
  return {
    reporter,
    events,
    advance(ms: number) {
      time += ms;
    },
    last(): ProgressEvent {
      const event = events.at(-1);
      if (event === undefined) throw new Error('no event');
      return event;
    },
  };
}

describe('createProgressReporter', () => {
  it('has no rate and no ETA on the first sample, and defaults the unit to bytes', () => {
    const { reporter, last, advance } = clocked();
    advance(250);
    reporter.report({ done: 100, total: 1000 });
    expect(last()).toEqual({
      phase: 'load/copy',
      computer: 'node12',
      unit: 'bytes',
      done: 100,
      total: 1000,
      ratePerSecond: undefined,
      etaSeconds: undefined,
      elapsedMs: 250,
      message: undefined,
    });
  });

  it('has no rate for two samples at the same instant', () => {
    const { reporter, last } = clocked();
    reporter.report({ done: 0 });
    reporter.report({ done: 10 });
    expect(last().ratePerSecond).toBeUndefined();
  });

  it('derives the rate and the ETA from the samples', () => {
    const { reporter, last, advance } = clocked();
    reporter.report({ done: 0, total: 10_000 });
    advance(1000);
    reporter.report({ done: 1000, total: 10_000 });
    expect(last().ratePerSecond).toBe(1000);
    expect(last().etaSeconds).toBe(9);
    advance(1000);
    reporter.report({ done: 3000, total: 10_000, message: 'copying' });
    expect(last().ratePerSecond).toBe(1500);
    expect(last().etaSeconds).toBeCloseTo(7000 / 1500, 10);
    expect(last().elapsedMs).toBe(2000);
    expect(last().message).toBe('copying');
  });

  it('computes the rate only over the window', () => {
    const { reporter, last, advance } = clocked({ rateWindowMs: 2000 });
    // A fast start the window should forget …
    reporter.report({ done: 0 });
    advance(1000);
    reporter.report({ done: 100_000 });
    // … then a steady 100 units per second.
    for (let i = 1; i <= 5; i++) {
      advance(1000);
      reporter.report({ done: 100_000 + i * 100 });
    }
    expect(last().ratePerSecond).toBeCloseTo(100, 10);
  });

  it('uses a 5 s window by default', () => {
    const { reporter, last, advance } = clocked();
    reporter.report({ done: 0 });
    advance(1000);
    reporter.report({ done: 50_000 });
    for (let i = 1; i <= 6; i++) {
      advance(1000);
      reporter.report({ done: 50_000 + i * 10 });
    }
    // The last 5 s (plus the sample at its edge) moved 10 units a second.
    expect(last().ratePerSecond).toBeCloseTo(10, 10);
  });

  it('gives no ETA without a total or with a zero rate, and never a negative one', () => {
    const { reporter, last, advance } = clocked();
    reporter.report({ done: 0 });
    advance(1000);
    reporter.report({ done: 10 });
    expect(last().ratePerSecond).toBe(10);
    expect(last().etaSeconds).toBeUndefined();

    const stalled = clocked();
    stalled.reporter.report({ done: 5, total: 10 });
    stalled.advance(1000);
    stalled.reporter.report({ done: 5, total: 10 });
    expect(stalled.last().ratePerSecond).toBe(0);
    expect(stalled.last().etaSeconds).toBeUndefined();

    const over = clocked();
    over.reporter.report({ done: 0, total: 10 });
    over.advance(1000);
    over.reporter.report({ done: 20, total: 10 });
    expect(over.last().etaSeconds).toBe(0);
  });

  it('starts a new count when the unit changes within the phase', () => {
    const { reporter, last, advance } = clocked();
    // A deploy copies its bytes, then the steps of the same phase are counted.
    reporter.report({ done: 0, total: 4096 });
    advance(1000);
    reporter.report({ done: 4096, total: 4096 });
    expect(last().ratePerSecond).toBe(4096);
    advance(10);
    reporter.report({ done: 2, total: 3, unit: 'steps' });
    expect(last()).toMatchObject({
      unit: 'steps',
      ratePerSecond: undefined,
      etaSeconds: undefined,
    });
    advance(1000);
    reporter.report({ done: 3, total: 4, unit: 'steps' });
    expect(last().ratePerSecond).toBe(1);
    expect(last().etaSeconds).toBe(1);
    // And back to bytes: the steps say nothing about the bytes' rate either.
    advance(1000);
    reporter.report({ done: 100_000, total: 200_000 });
    expect(last()).toMatchObject({
      unit: 'bytes',
      ratePerSecond: undefined,
      etaSeconds: undefined,
    });
    advance(1000);
    reporter.report({ done: 150_000, total: 200_000 });
    expect(last().ratePerSecond).toBe(50_000);
    expect(last().etaSeconds).toBe(1);
  });

  it('starts a new count when done goes back (a new transfer in the same phase)', () => {
    const { reporter, events, last, advance } = clocked();
    reporter.report({ done: 0, total: 1000 });
    advance(1000);
    reporter.report({ done: 1000, total: 1000 });
    // The second file starts from zero a moment later …
    advance(100);
    reporter.report({ done: 0, total: 2000 });
    expect(last()).toMatchObject({ done: 0, ratePerSecond: undefined, etaSeconds: undefined });
    advance(100);
    reporter.report({ done: 50, total: 2000 });
    // … and its rate is its own: 50 units in 0.1 s, not a drop from the first file's 1000.
    expect(last().ratePerSecond).toBeCloseTo(500, 10);
    expect(last().etaSeconds).toBeCloseTo(3.9, 10);
    advance(1000);
    reporter.report({ done: 550, total: 2000 });
    expect(last().ratePerSecond).toBeCloseTo(500, 10);
    for (const event of events) {
      expect(event.ratePerSecond ?? 0).toBeGreaterThanOrEqual(0);
      expect(event.etaSeconds ?? 0).toBeGreaterThanOrEqual(0);
    }
  });

  it('never reports a negative rate or ETA, whatever the counts do', () => {
    const { reporter, events, advance } = clocked({ rateWindowMs: 3000 });
    const counts = [5, 900, 3, 3, 700, 10, 10_000, 9_999, 0, 1, 2_000_000, 1_000];
    for (const [i, done] of counts.entries()) {
      advance(250 + 130 * (i % 4));
      reporter.report({ done, total: 1_000_000, unit: i % 5 === 3 ? 'steps' : 'bytes' });
    }
    expect(events).toHaveLength(counts.length);
    for (const event of events) {
      expect(event.ratePerSecond ?? 0).toBeGreaterThanOrEqual(0);
      expect(event.etaSeconds ?? 0).toBeGreaterThanOrEqual(0);
    }
  });

  it('keeps a steps unit when given', () => {
    const { reporter, last } = clocked();
    reporter.report({ done: 1, total: 3, unit: 'steps' });
    expect(last().unit).toBe('steps');
  });

  it("defaults the clock to performance.now, counted from the reporter's creation", () => {
    // Fake timers fake performance.now too: the elapsed time is exact, however loaded the machine.
    vi.useFakeTimers();
    try {
      const events: ProgressEvent[] = [];
      const reporter = createProgressReporter((event) => events.push(event), { phase: 'p' });
      vi.advanceTimersByTime(250);
      reporter.report({ done: 1 });
      expect(events[0]?.elapsedMs).toBe(250);
      expect(events[0]?.computer).toBeUndefined();
    } finally {
      vi.useRealTimers();
    }
  });
});
