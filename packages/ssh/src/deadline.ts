import { abortError, coreError } from '@vlab/core';

/**
 * How long an aborted operation waits for a sign of life from the machine (a channel opening, a
 * reply) before it settles anyway: a frozen or cut-off machine does not hold an abort. One that
 * answers is waited for, so that it can clean up. Half the conformance kit's 2000 ms abort bound:
 * the other half is for the rest of the abort path on a loaded machine, a provisioner's cleanup
 * on its hypervisor or BMC (a VM destroyed, a machine powered off) included.
 */
export const UNANSWERED_MS = 1000;

/**
 * Settles like `work` — unless `signal` fires first: then it rejects with the abort error once
 * `work` settled (work that watches the signal stops and cleans up on its own) or `giveUpMs`
 * passed, whichever comes first.
 */
export function abortable<T>(
  work: Promise<T>,
  signal: AbortSignal,
  giveUpMs: number,
  computer: string,
  operation: string,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      const fail = (): void => {
        clearTimeout(timer);
        reject(abortError(signal, computer, operation));
      };
      const timer = setTimeout(fail, giveUpMs);
      timer.unref();
      work.then(fail, fail);
    };
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        if (signal.aborted) return;
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        if (signal.aborted) return;
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

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
