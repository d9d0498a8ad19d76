import { coreError } from './errors/core-errors.js';
import { isVlabError, type VlabError } from './errors/vlab-error.js';

/**
 * Turns an aborted signal's reason into the typed error an operation should throw:
 * a reason that already is a vlab error (a deadline's `VLAB_ERR_OP_TIMEOUT`) is returned as is;
 * anything else becomes `VLAB_ERR_OP_CANCELLED` carrying the reason in `details.reason` and `cause`.
 * @param signal - An aborted signal.
 * @param computer - Names the computer in the error.
 * @param operation - Names what was cancelled in the message. Default: `operation`.
 * @public
 */
export function abortError(signal: AbortSignal, computer?: string, operation?: string): VlabError {
  const reason: unknown = signal.reason;
  if (isVlabError(reason)) return reason;
  const what = operation === undefined ? 'operation' : operation;
  return coreError('VLAB_ERR_OP_CANCELLED', `${what} was cancelled: ${describeReason(reason)}`, {
    computer,
    cause: reason,
    details: { reason },
  });
}

/**
 * Throws {@link abortError} if the signal has fired; otherwise does nothing.
 * @param computer - Names the computer in the error.
 * @param operation - Names what was cancelled in the message.
 * @public
 */
export function throwIfCancelled(signal: AbortSignal, computer?: string, operation?: string): void {
  if (signal.aborted) throw abortError(signal, computer, operation);
}

/**
 * Resolves after `ms` milliseconds, or rejects with {@link abortError} as soon as the signal fires.
 * @param computer - Names the computer in the error.
 * @public
 */
export function sleep(ms: number, signal: AbortSignal, computer?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(abortError(signal, computer));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError(signal, computer));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Settles like `work`, except that it rejects with {@link abortError} as soon as the signal fires.
 * For waiting on something that cannot itself be cancelled; `work` keeps running, so use it only
 * where the caller can live with that (the underlying I/O has its own timeout).
 * @param computer - Names the computer in the error.
 * @public
 */
export function untilCancelled<T>(
  work: Promise<T>,
  signal: AbortSignal,
  computer?: string,
): Promise<T> {
  if (signal.aborted) return Promise.reject(abortError(signal, computer));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortError(signal, computer));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function describeReason(reason: unknown): string {
  if (reason instanceof Error) return reason.message;
  if (typeof reason === 'string') return reason;
  return 'no reason given';
}
