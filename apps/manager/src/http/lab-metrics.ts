import type { Logger } from '@vlab/core';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { COMPUTER_STATES, RESERVATION_STATES } from '../database/schema.js';
import type { Manager } from '../manager.js';

/** Upper bounds of the step duration buckets, in seconds: from a database write to a long load. */
const STEP_BUCKETS = [0.05, 0.25, 1, 5, 15, 60, 300, 900, 1800, 3600];

/** The lab's metrics in Prometheus's format, and what keeps them current. */
export interface LabMetrics {
  readonly registry: Registry;
  /** Stops following the events. */
  close(): void;
}

/**
 * The lab's metrics, the same from every manager of the lab: the reservations and computers by
 * state and the queue of reservations waiting for a computer, read from the database at each
 * scrape; the step durations and failures by code, counted from the lab's recorded events (all of
 * them, then each new one, whichever manager records it).
 */
export function labMetrics(manager: Manager, log: Logger): LabMetrics {
  const registry = new Registry();
  const steps = new Histogram({
    name: 'vlab_step_duration_seconds',
    help: 'How long the workflow steps took, by step and outcome',
    labelNames: ['step', 'outcome'],
    buckets: STEP_BUCKETS,
    registers: [registry],
  });
  const failures = new Counter({
    name: 'vlab_step_failures_total',
    help: 'Failed workflow steps, by step and error code (module and provisioner errors included)',
    labelNames: ['step', 'code'],
    registers: [registry],
  });
  new Gauge({
    name: 'vlab_reservations',
    help: 'Reservations by state',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const counts = countBy(await manager.reservations.list(), (r) => r.state);
      for (const state of RESERVATION_STATES) this.set({ state }, counts.get(state) ?? 0);
    },
  });
  new Gauge({
    name: 'vlab_computers',
    help: 'Computers by state',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const counts = countBy(await manager.computers.list(), (c) => c.state);
      for (const state of COMPUTER_STATES) this.set({ state }, counts.get(state) ?? 0);
    },
  });
  new Gauge({
    name: 'vlab_queue_depth',
    help: 'Reservations waiting for a computer (pending)',
    registers: [registry],
    async collect() {
      this.set((await manager.reservations.list()).filter((r) => r.state === 'pending').length);
    },
  });

  const controller = new AbortController();
  void (async () => {
    for await (const event of manager.followEvents({}, controller.signal)) {
      if (event.durationMs === null || event.outcome === null) continue;
      steps.observe({ step: event.kind, outcome: event.outcome }, event.durationMs / 1000);
      if (event.outcome === 'failed') {
        failures.inc({ step: event.kind, code: event.errorCode ?? 'none' });
      }
    }
  })().catch((error: unknown) => {
    if (!controller.signal.aborted) {
      log.warn('the metrics stopped following the events', { error: String(error) });
    }
  });
  return { registry, close: () => controller.abort() };
}

function countBy<T>(items: readonly T[], key: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}
