import { coreError } from '@vlab/core';

/** A signal that fires when the caller's signal fires or the deadline passes, whichever is first. */
export interface OperationSignal {
  readonly signal: AbortSignal;
  /** Clears the timer and the listener on the caller's signal. */
  dispose(): void;
}

/**
 * Combines a caller's `signal` with a deadline of `timeoutMs` from now. When the deadline passes
 * the signal aborts with a `VLAB_ERR_OP_TIMEOUT` error as its reason, which core's `abortError`
 * passes on unchanged; a caller's abort keeps the caller's reason.
 */
export function operationSignal(
  signal: AbortSignal | undefined,
  timeoutMs: number,
  computer: string,
  operation: string,
): OperationSignal {
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(signal?.reason);
  if (signal?.aborted) controller.abort(signal.reason);
  else signal?.addEventListener('abort', onAbort, { once: true });
  const timer =
    Number.isFinite(timeoutMs) && !controller.signal.aborted
      ? setTimeout(() => {
          controller.abort(
            coreError('VLAB_ERR_OP_TIMEOUT', `${operation} did not finish within ${timeoutMs} ms`, {
              computer,
              details: { timeoutMs, operation },
            }),
          );
        }, timeoutMs)
      : undefined;
  return {
    signal: controller.signal,
    dispose() {
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    },
  };
}

/** A signal that fires after `timeoutMs` without {@link IdleSignal.touch}, or with the caller's. */
export interface IdleSignal extends OperationSignal {
  /** Progress: restart the idle timer. */
  touch(): void;
  /** Stop the timer (while waiting on the caller, which is not the transfer's fault). */
  pause(): void;
}

/**
 * Like {@link operationSignal}, but the deadline is an idle time: it fires `VLAB_ERR_OP_TIMEOUT`
 * only when `timeoutMs` pass without progress (`touch`).
 */
export function idleSignal(
  signal: AbortSignal | undefined,
  timeoutMs: number,
  computer: string,
  operation: string,
): IdleSignal {
  const inner = operationSignal(signal, Number.POSITIVE_INFINITY, computer, operation);
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(inner.signal.reason);
  if (inner.signal.aborted) controller.abort(inner.signal.reason);
  else inner.signal.addEventListener('abort', onAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    if (!Number.isFinite(timeoutMs) || controller.signal.aborted) return;
    timer = setTimeout(() => {
      controller.abort(
        coreError('VLAB_ERR_OP_TIMEOUT', `${operation} made no progress for ${timeoutMs} ms`, {
          computer,
          details: { timeoutMs, operation, idle: true },
        }),
      );
    }, timeoutMs);
  };
  arm();
  return {
    signal: controller.signal,
    touch: arm,
    pause() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
    dispose() {
      if (timer !== undefined) clearTimeout(timer);
      inner.signal.removeEventListener('abort', onAbort);
      inner.dispose();
    },
  };
}
