/** What a long operation counts. @public */
export type ProgressUnit = 'bytes' | 'steps';

/** One progress update as an operation reports it. @public */
export interface ProgressUpdate {
  /** How much is done, in `unit`s. */
  readonly done: number;
  /** How much there is in all, when known. */
  readonly total?: number | undefined;
  /** Defaults to `'bytes'`. */
  readonly unit?: ProgressUnit | undefined;
  /** A short human note ("waiting for SSH"). */
  readonly message?: string | undefined;
}

/** A progress update with what the reporter derived: phase, rate and ETA. @public */
export interface ProgressEvent {
  /** The phase of the context that reported it (`load/deploy`). */
  readonly phase: string;
  /** The computer's name; undefined for work on no computer (image-store calls). */
  readonly computer: string | undefined;
  /** What `done` and `total` count. */
  readonly unit: ProgressUnit;
  /** How much is done, in `unit`s. */
  readonly done: number;
  /** How much there is in all; undefined when unknown. */
  readonly total: number | undefined;
  /**
   * Units per second over the last few seconds, never negative; undefined until two updates of one
   * count are apart in time (a change of unit or a `done` that goes back starts a new count).
   */
  readonly ratePerSecond: number | undefined;
  /** Seconds until `total` at the current rate; undefined without a total or a rate. */
  readonly etaSeconds: number | undefined;
  /** Milliseconds since the reporter was made, i.e. since its phase's context was created. */
  readonly elapsedMs: number;
  /** The update's short human note; undefined when it had none. */
  readonly message: string | undefined;
}

/** Where progress events go. @public */
export type ProgressSink = (event: ProgressEvent) => void;

/** What operations call to report progress; the context gives each phase its own reporter. @public */
export interface ProgressReporter {
  /** Reports how far the current phase is. Cheap: call it per chunk if you like. */
  report(update: ProgressUpdate): void;
}

/** Options of {@link createProgressReporter}. @public */
export interface ProgressReporterOptions {
  /** Copied into every event as `phase`. */
  readonly phase: string;
  /** Copied into every event as `computer`. */
  readonly computer?: string | undefined;
  /** Monotonic milliseconds; defaults to `performance.now`. */
  readonly now?: () => number;
  /** How far back the rate looks, in milliseconds. Default: 5000. */
  readonly rateWindowMs?: number;
}

/**
 * A reporter that turns counts into events with a rate (over a sliding window) and an ETA.
 * @public
 */
export function createProgressReporter(
  sink: ProgressSink,
  options: ProgressReporterOptions,
): ProgressReporter {
  const now = options.now ?? (() => performance.now());
  const windowMs = options.rateWindowMs ?? 5000;
  const started = now();
  const samples: { at: number; done: number }[] = [];
  let unit: ProgressUnit | undefined;
  return {
    report(update) {
      const at = now();
      const reported = update.unit ?? 'bytes';
      // Another unit, or a count that went back (a new transfer in the same phase), starts a new
      // count: samples of the old one would make the rate meaningless, even negative.
      const previous = samples.at(-1);
      if (reported !== unit || (previous !== undefined && update.done < previous.done)) {
        samples.length = 0;
      }
      unit = reported;
      samples.push({ at, done: update.done });
      while (samples.length > 2 && (samples[0]?.at ?? at) < at - windowMs) samples.shift();
      const first = samples[0];
      const span = first === undefined ? 0 : at - first.at;
      const ratePerSecond =
        first !== undefined && span > 0 ? ((update.done - first.done) * 1000) / span : undefined;
      const etaSeconds =
        update.total !== undefined && ratePerSecond !== undefined && ratePerSecond > 0
          ? Math.max(0, (update.total - update.done) / ratePerSecond)
          : undefined;
      sink({
        phase: options.phase,
        computer: options.computer,
        unit: reported,
        done: update.done,
        total: update.total,
        ratePerSecond,
        etaSeconds,
        elapsedMs: at - started,
        message: update.message,
      });
    },
  };
}
