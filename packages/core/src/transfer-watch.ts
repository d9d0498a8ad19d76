import type { OperationContext } from './context.js';
import { coreError } from './errors/core-errors.js';

/**
 * Progress is reported at each quarter of the total: the same reports for the same transfer, so
 * that a caller (the conformance kit) can stop the operation at a known point of it, never at a
 * time; a transfer of unknown size reports at its end only.
 */
const REPORTS_PER_TRANSFER = 4;

/**
 * Watches one disk transfer: reports progress (bytes, rate, ETA through `ctx.progress`) at each
 * quarter, and aborts the transfer when no byte moved for `idleMs` — a stalled peer fails the
 * step with `VLAB_ERR_OP_TIMEOUT` instead of holding it until the whole transfer's deadline.
 * @public
 */
export class TransferWatch implements Disposable {
  /** Fires on the operation's cancel and on an idle transfer. */
  readonly signal: AbortSignal;
  readonly #ctx: OperationContext;
  readonly #computer: string;
  readonly #idle = new AbortController();
  readonly #idleMs: number;
  readonly #total: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #done = 0;
  #reported = 0;

  /**
   * Starts watching: the idle deadline runs from now.
   * @param ctx - The operation: its cancel ends the transfer, its progress gets the reports.
   * @param computer - The computer the idle error names.
   * @param what - The transfer, as the idle error's message names it (`copying debian-12 revision 3`).
   * @param idleMs - How long the transfer may move no byte before it is stopped.
   * @param total - The bytes expected, for the quarter reports; without it, one report at the end.
   */
  constructor(
    ctx: OperationContext,
    computer: string,
    what: string,
    idleMs: number,
    total?: number,
  ) {
    this.#ctx = ctx;
    this.#computer = computer;
    this.#idleMs = idleMs;
    this.#total = total;
    this.signal = AbortSignal.any([ctx.signal, this.#idle.signal]);
    this.#arm(what);
  }

  /** Counts `bytes` more: re-arms the idle deadline, reports at each quarter of the total. */
  moved(bytes: number): void {
    this.#done += bytes;
    this.#timer?.refresh();
    const total = this.#total;
    if (total === undefined || total <= 0) return;
    const quarter = Math.min(
      REPORTS_PER_TRANSFER - 1,
      Math.floor((this.#done / total) * REPORTS_PER_TRANSFER),
    );
    // One report per quarter crossed, even when one chunk crosses two.
    while (this.#reported < quarter) {
      this.#reported += 1;
      this.#report();
    }
  }

  /** Bytes counted so far. */
  get done(): number {
    return this.#done;
  }

  /** The final report (the fourth quarter's). */
  finish(): void {
    this.#report();
    this[Symbol.dispose]();
  }

  #report(): void {
    this.#ctx.progress.report({ done: this.#done, total: this.#total, unit: 'bytes' });
  }

  #arm(what: string): void {
    this.#timer = setTimeout(() => {
      this.#idle.abort(
        coreError(
          'VLAB_ERR_OP_TIMEOUT',
          `${what}: no byte moved for ${this.#idleMs >= 1000 ? `${Math.round(this.#idleMs / 1000)} s` : `${this.#idleMs} ms`}`,
          {
            computer: this.#computer,
            details: { idleMs: this.#idleMs, bytes: this.#done },
          },
        ),
      );
    }, this.#idleMs);
    this.#timer.unref();
  }

  /** Why the transfer was stopped, when the idle deadline stopped it. */
  get idleReason(): unknown {
    return this.#idle.signal.aborted ? this.#idle.signal.reason : undefined;
  }

  /** Stops the idle deadline (without a report); `finish` does it too. Idempotent. */
  [Symbol.dispose](): void {
    clearTimeout(this.#timer);
  }
}
