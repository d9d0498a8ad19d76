import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { createProgressReporter, type ProgressReporter, type ProgressSink } from '@vlab/core';

/** What a finished transfer moved. @public */
export interface TransferSummary {
  /** Bytes that went through. */
  readonly bytes: number;
  /** SHA-256 of those bytes, lower-case hex. */
  readonly sha256: string;
}

/** Options of {@link TransferMeter}. @public */
export interface TransferMeterOptions {
  /** Gets progress events (bytes done, total, rate, ETA) while data flows, and once at the end. */
  readonly onProgress?: ProgressSink | undefined;
  /** The phase name in progress events. Default: `'transfer'`. */
  readonly phase?: string | undefined;
  /** The computer in progress events. */
  readonly computer?: string | undefined;
  /** Total bytes, when known, for the ETA. */
  readonly total?: number | undefined;
  /** At most one progress event per this many ms (plus the last). Default: 250. */
  readonly progressIntervalMs?: number | undefined;
}

/**
 * A pass-through stream that counts bytes, computes their SHA-256 on the fly and reports
 * progress (through `@vlab/core`'s `createProgressReporter`: rate over a sliding window, ETA).
 * Put it in any pipeline; back-pressure passes through it unchanged.
 * @public
 */
export class TransferMeter extends Transform {
  readonly #hash: Hash = createHash('sha256');
  readonly #reporter: ProgressReporter | undefined;
  readonly #total: number | undefined;
  readonly #intervalMs: number;
  #bytes = 0;
  #lastReport = 0;
  #summary: TransferSummary | undefined;
  /** Resolves with the byte count and hash once the data ended. */
  readonly summary: Promise<TransferSummary>;
  #resolveSummary: (summary: TransferSummary) => void = () => undefined;

  constructor(options: TransferMeterOptions = {}) {
    super();
    this.#total = options.total;
    this.#intervalMs = options.progressIntervalMs ?? 250;
    this.#reporter =
      options.onProgress === undefined
        ? undefined
        : createProgressReporter(options.onProgress, {
            phase: options.phase ?? 'transfer',
            computer: options.computer,
          });
    this.summary = new Promise((resolve) => {
      this.#resolveSummary = resolve;
    });
  }

  /** Bytes through so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Counts, hashes and passes the chunk on. @internal */
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#hash.update(chunk);
    this.#bytes += chunk.length;
    if (this.#reporter !== undefined) {
      const now = performance.now();
      if (now - this.#lastReport >= this.#intervalMs) {
        this.#lastReport = now;
        this.#reporter.report({ done: this.#bytes, total: this.#total });
      }
    }
    callback(null, chunk);
  }

  /** Finishes the hash and reports the last progress event. @internal */
  override _flush(callback: TransformCallback): void {
    this.#summary = { bytes: this.#bytes, sha256: this.#hash.digest('hex') };
    this.#reporter?.report({ done: this.#bytes, total: this.#total ?? this.#bytes });
    this.#resolveSummary(this.#summary);
    callback();
  }
}
