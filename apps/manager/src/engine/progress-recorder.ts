import type { Logger, ProgressEvent, ProgressSink } from '@vlab/core';
import type { Kysely } from 'kysely';
import { PROGRESS_EVENT, recordEvent } from '../database/events.js';
import type { LabDatabase } from '../database/schema.js';

/** Least time between two stored samples of one phase on one computer. */
export const PROGRESS_SAMPLE_MS = 1000;

/**
 * Stores the modules' progress reports as events of kind `progress`, at most one a second per
 * phase and computer (and always the one that completes a phase), so the streams of every
 * manager can show them. Storing is best effort: a sample that cannot be stored is logged, and the
 * operation goes on.
 */
export class ProgressRecorder {
  readonly #db: Kysely<LabDatabase>;
  readonly #log: Logger;
  readonly #last = new Map<string, number>();

  constructor(db: Kysely<LabDatabase>, log: Logger) {
    this.#db = db;
    this.#log = log;
  }

  /** The sink of one operation's contexts, for the reservation it works for (if any). */
  sink(reservationId: string | undefined): ProgressSink {
    return (event) => this.#sample(event, reservationId);
  }

  #sample(event: ProgressEvent, reservationId: string | undefined): void {
    const key = `${event.computer ?? ''}\u0000${event.phase}`;
    const now = Date.now();
    const complete = event.total !== undefined && event.done >= event.total;
    const last = this.#last.get(key);
    if (!complete && last !== undefined && now - last < PROGRESS_SAMPLE_MS) return;
    if (complete) this.#last.delete(key);
    else this.#last.set(key, now);
    recordEvent(this.#db, {
      kind: PROGRESS_EVENT,
      reservationId,
      computer: event.computer,
      step: event.phase.slice(0, 200),
      message: event.message,
      progress: {
        unit: event.unit,
        done: event.done,
        total: event.total ?? null,
        ratePerSecond: event.ratePerSecond ?? null,
        etaSeconds: event.etaSeconds ?? null,
      },
    }).catch((error: unknown) =>
      this.#log.warn('a progress sample could not be stored', {
        phase: event.phase,
        computer: event.computer,
        error: String(error),
      }),
    );
  }
}
