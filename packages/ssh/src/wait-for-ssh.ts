import { abortError, coreError, isVlabError, sleep } from '@vlab/core';
import type { SshClient } from './client.js';
import { operationSignal } from './deadline.js';

/** Options of {@link waitForSsh}. @public */
export interface WaitForSshOptions {
  /** Stops waiting; rejects with the cancel error. */
  readonly signal?: AbortSignal | undefined;
  /** Give up after this many ms. Default: 600000 (VCL's wait_for_response). */
  readonly timeoutMs?: number | undefined;
  /** The probe command; success is exit code 0. Default: `['true']`. */
  readonly probe?: readonly string[] | undefined;
  /**
   * First pause between attempts, in ms; it doubles up to `maxDelayMs`. A pause counts from the
   * start of the attempt before it. Default: 500.
   */
  readonly initialDelayMs?: number | undefined;
  /** Longest pause between attempts, in ms. Default: 10000. */
  readonly maxDelayMs?: number | undefined;
  /** Time for one attempt (connect and probe), in ms. Default: 20000. */
  readonly attemptTimeoutMs?: number | undefined;
}

/** Errors that no amount of waiting fixes: stop at once. */
const FATAL = new Set([
  'VLAB_ERR_HOSTKEY_MISMATCH',
  'VLAB_ERR_SSH_HOSTKEY_UNKNOWN',
  'VLAB_ERR_SSH_POOL_CLOSED',
  'VLAB_ERR_ARGUMENT_INVALID',
  'VLAB_ERR_SSH_KEY_INVALID',
]);

/**
 * Polls a booting computer until SSH answers and the probe command exits 0, with exponential
 * backoff. A pause counts from the start of the attempt before it: an attempt that failed slowly
 * has waited already (a booting machine's address answers no ARP until its network is up, and a
 * connect then fails after about 3 s — a pause after that would only see the machine later).
 * Resolves with the number of attempts. On the deadline, rejects with
 * `VLAB_ERR_OP_TIMEOUT` whose message and `details.lastError` say what the last attempt met; a
 * changed or unknown host key ends the wait at once with that error.
 * @public
 */
export async function waitForSsh(
  client: SshClient,
  options: WaitForSshOptions = {},
): Promise<number> {
  const timeoutMs = options.timeoutMs ?? 600_000;
  const probe = options.probe ?? (client.target.shell === 'powershell' ? ['exit 0'] : ['true']);
  const computer = client.computer;
  const outer = operationSignal(options.signal, timeoutMs, computer, 'waiting for SSH');
  let delay = options.initialDelayMs ?? 500;
  const maxDelay = options.maxDelayMs ?? 10_000;
  let lastError = 'no attempt finished';
  const started = Date.now();
  try {
    for (let attempt = 1; ; attempt += 1) {
      const attemptStarted = Date.now();
      try {
        const result = await client.exec(probe, {
          signal: outer.signal,
          timeoutMs: options.attemptTimeoutMs ?? 20_000,
          maxOutputBytes: 64 * 1024,
        });
        if (result.code === 0) return attempt;
        lastError = `the probe ${probe[0]} exited with code ${result.code}`;
      } catch (error) {
        if (outer.signal.aborted) break;
        if (isVlabError(error) && FATAL.has(error.code)) throw error;
        lastError = error instanceof Error ? error.message : String(error);
      }
      const pause = attemptStarted + delay - Date.now();
      if (outer.signal.aborted) break;
      try {
        if (pause > 0) await sleep(pause, outer.signal, computer);
      } catch {
        break;
      }
      delay = Math.min(maxDelay, delay * 2);
    }
    const reason: unknown = outer.signal.reason;
    if (isVlabError(reason, 'VLAB_ERR_OP_TIMEOUT')) {
      throw coreError(
        'VLAB_ERR_OP_TIMEOUT',
        `SSH to ${client.target.host} did not answer within ${timeoutMs} ms; last error: ${lastError}`,
        { computer, details: { timeoutMs, lastError, elapsedMs: Date.now() - started } },
      );
    }
    throw abortError(outer.signal, computer, 'waiting for SSH');
  } finally {
    outer.dispose();
  }
}
