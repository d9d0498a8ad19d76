import {
  abortError,
  type Communicator,
  coreError,
  type PutOptions,
  type ReachOptions,
  type RunOptions,
  type RunResult,
  type TransferOptions,
  type TransferSource,
  transferIdleTimeoutMs,
} from '@vlab/core';
import type { HarnessCommand } from '@vlab/core/testing';

/** The defaults of `@vlab/ssh`'s SshCommunicator where a call gives no time of its own. */
const RUN_TIMEOUT_MS = 60_000;
const REACH_TIMEOUT_MS = 600_000;

/** How long a call may wait for the machine, and what it is called in its errors. */
interface CallLimits {
  /** Names the call in errors, as `@vlab/ssh` does (`hostname on c1`, `put /etc/hosts`). */
  readonly operation: string;
  /** The caller's signal: a held call rejects with the cancel error when it fires. */
  readonly signal: AbortSignal | undefined;
  /** The call's deadline (`Infinity`: none), from its start or, for `idle`, from the wait's. */
  readonly timeoutMs: number;
  /** Whether `timeoutMs` is a transfer's idle time (no progress) rather than a whole call's. */
  readonly idle: boolean;
}

const noop = (): void => undefined;

/** The bytes of `source` for the record, when it is bytes or a string (a stream is not read). */
function bytesOf(source: TransferSource | undefined): Uint8Array | undefined {
  if (typeof source === 'string') return Buffer.from(source, 'utf8');
  if (source instanceof Uint8Array) return Buffer.from(source); // a copy: the caller may reuse it
  return undefined;
}

/**
 * The communicator a lab harness hands to every context it makes: it passes every call to the
 * real (SSH) communicator unchanged, and on the way records the commands the module runs and can
 * make the machine stop answering after a number of them — the harness's `commands` and
 * `stallAfterCommands`. The module has no other channel to the guest, so what passes here is
 * everything it makes the machine do.
 *
 * @remarks
 * A command is a `run` or `runChecked` (its argv as the module passed it, and its stdin when that
 * is a string or bytes) or a `put` (recorded as `put PATH` with the content as its stdin, as the
 * memory machine records it); it is recorded when it is sent to the machine, so a call held by a
 * stall is recorded only once released, and one whose signal fired before it started not at all.
 * `get`, `getStream`, `waitUntilReachable` and `trustHostKeys` are protocol requests (SFTP, SSH)
 * rather than commands: not recorded, but held by a stall like every other call.
 *
 * A stall behaves as the memory machine's does: the command that completes the count reaches the
 * machine and takes effect — it runs to its end even if the caller aborts meanwhile, bounded by
 * its own deadline — but its answer is held; every later call waits before it reaches the machine,
 * and the answers of calls still in flight are held too. A held call rejects as the SSH
 * communicator does when the machine stops answering: when its `signal` fires with core's cancel
 * error (`abortError`: `VLAB_ERR_OP_CANCELLED`, or the signal's reason when that is a vlab
 * error), when its deadline passes with `VLAB_ERR_OP_TIMEOUT` (`run`: `timeoutMs`, default
 * 60000; transfers: the idle time; `waitUntilReachable`: `timeoutMs`, default 600000;
 * `trustHostKeys` has none). {@link RecordingCommunicator.release} ends the stall: held calls go
 * on to the machine, and it resolves once the command that completed the count has finished.
 */
export class RecordingCommunicator implements Communicator {
  readonly computer: string;
  readonly shell: Communicator['shell'];
  readonly #inner: Communicator;
  #commands: HarnessCommand[] = [];
  /** Commands still to run before the stall; `undefined` when no stall is armed. */
  #countdown: number | undefined;
  #stalled = false;
  /** Wakes each call held by the stall. */
  readonly #held = new Set<() => void>();
  /** The command that completed the count, settled (never rejects), until the stall ends. */
  #last: Promise<void> | undefined;

  /** @param inner - The communicator every call goes to. */
  constructor(inner: Communicator) {
    this.#inner = inner;
    this.computer = inner.computer;
    this.shell = inner.shell;
  }

  /** Every command sent to the machine since the last {@link RecordingCommunicator.clear}, oldest first. */
  commands(): readonly HarnessCommand[] {
    return [...this.#commands];
  }

  /** Forgets the recorded commands (not the stall). */
  clear(): void {
    this.#commands = [];
  }

  /**
   * Makes the machine stop answering once `count` more commands were sent to it (at once for 0);
   * the returned function ends the stall ({@link RecordingCommunicator.release}).
   */
  stallAfterCommands(count: number): () => Promise<void> {
    if (!Number.isSafeInteger(count) || count < 0)
      throw new RangeError(`stallAfterCommands needs a count ≥ 0, got ${count}`);
    if (count === 0) {
      this.#countdown = undefined;
      this.#stalled = true;
    } else this.#countdown = count;
    return () => this.release();
  }

  /**
   * Ends the stall, armed or in force: held calls go on to the machine. Resolves once they are
   * released and the command that completed the count (if any) has finished.
   */
  async release(): Promise<void> {
    this.#countdown = undefined;
    this.#stalled = false;
    for (const wake of [...this.#held]) wake();
    const last = this.#last;
    this.#last = undefined;
    await last;
  }

  run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const { signal, ...rest } = options;
    return this.#call(
      this.#runLimits(argv, options),
      this.#command(argv, options.stdin),
      (detached) => this.#inner.run(argv, detached ? rest : options),
    );
  }

  runChecked(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const { signal, ...rest } = options;
    return this.#call(
      this.#runLimits(argv, options),
      this.#command(argv, options.stdin),
      (detached) => this.#inner.runChecked(argv, detached ? rest : options),
    );
  }

  put(remotePath: string, content: TransferSource, options: PutOptions = {}): Promise<void> {
    const { signal, ...rest } = options;
    return this.#call(
      this.#transferLimits(`put ${remotePath}`, options),
      this.#command(['put', remotePath], content),
      (detached) => this.#inner.put(remotePath, content, detached ? rest : options),
    );
  }

  get(remotePath: string, options: TransferOptions = {}): Promise<Buffer> {
    return this.#call(this.#transferLimits(`get ${remotePath}`, options), undefined, () =>
      this.#inner.get(remotePath, options),
    );
  }

  async *getStream(remotePath: string, options: TransferOptions = {}): AsyncIterable<Uint8Array> {
    const limits = this.#transferLimits(`get ${remotePath}`, options);
    const started = performance.now();
    if (options.signal?.aborted !== true) while (this.#stalled) await this.#hold(limits, started);
    const iterator = this.#inner.getStream(remotePath, options)[Symbol.asyncIterator]();
    try {
      for (;;) {
        const next = await iterator.next();
        // A chunk that arrives while the machine stopped answering is held like an answer.
        if (this.#stalled) await this.#hold(limits, performance.now());
        if (next.done === true) return;
        yield next.value;
      }
    } finally {
      await iterator.return?.();
    }
  }

  waitUntilReachable(options: ReachOptions = {}): Promise<void> {
    const limits: CallLimits = {
      operation: 'waiting for SSH',
      signal: options.signal,
      timeoutMs: options.timeoutMs ?? REACH_TIMEOUT_MS,
      idle: false,
    };
    return this.#call(limits, undefined, () => this.#inner.waitUntilReachable(options));
  }

  trustHostKeys(
    publicKeys: readonly string[],
    options: { readonly signal?: AbortSignal } = {},
  ): Promise<void> {
    const limits: CallLimits = {
      operation: 'trusting new host keys',
      signal: options.signal,
      timeoutMs: Number.POSITIVE_INFINITY,
      idle: false,
    };
    return this.#call(limits, undefined, () => this.#inner.trustHostKeys(publicKeys, options));
  }

  #runLimits(argv: readonly string[], options: RunOptions): CallLimits {
    return {
      operation: `${argv[0] ?? 'command'} on ${this.computer}`,
      signal: options.signal,
      timeoutMs: options.timeoutMs ?? RUN_TIMEOUT_MS,
      idle: false,
    };
  }

  #transferLimits(operation: string, options: TransferOptions): CallLimits {
    return {
      operation,
      signal: options.signal,
      timeoutMs: transferIdleTimeoutMs(options),
      idle: true,
    };
  }

  #command(argv: readonly string[], stdin: TransferSource | undefined): HarnessCommand {
    const bytes = bytesOf(stdin);
    return { argv: [...argv], ...(bytes === undefined ? {} : { stdin: bytes }) };
  }

  /**
   * One call: held while the machine is stalled, then recorded (a command) and passed on — to
   * `work(true)`, without the caller's signal, for the command that completes the count — and its
   * answer held while the machine is stalled.
   */
  async #call<T>(
    limits: CallLimits,
    command: HarnessCommand | undefined,
    work: (detached: boolean) => Promise<T>,
  ): Promise<T> {
    // Cancelled before it started: the inner communicator rejects as it does, sending nothing.
    if (limits.signal?.aborted === true) return work(false);
    const started = performance.now();
    // Checked and recorded in one step (no await between): a call made while another completes
    // the count is held, never slipped through.
    while (this.#stalled) await this.#hold(limits, started);
    const last = command !== undefined && this.#record(command);
    const inner = work(last);
    if (last) {
      // It takes effect whatever the caller does now; release() waits for it.
      this.#last = inner.then(noop, noop);
      await this.#hold(limits, started);
      return inner;
    }
    let outcome: { readonly value: T } | { readonly error: unknown };
    try {
      outcome = { value: await inner };
    } catch (error) {
      outcome = { error };
    }
    if (this.#stalled) await this.#hold(limits, started);
    if ('error' in outcome) throw outcome.error;
    return outcome.value;
  }

  /** Records `command`; returns whether it completed the count (the machine is stalled now). */
  #record(command: HarnessCommand): boolean {
    this.#commands.push(command);
    if (this.#countdown === undefined) return false;
    this.#countdown -= 1;
    if (this.#countdown > 0) return false;
    this.#countdown = undefined;
    this.#stalled = true;
    return true;
  }

  /**
   * Resolves at once when the machine answers, else once the stall ends; rejects when the call's
   * signal fires or its deadline passes first, with the errors of `@vlab/ssh`'s communicator.
   */
  #hold(limits: CallLimits, started: number): Promise<void> {
    if (!this.#stalled) return Promise.resolve();
    const { signal, timeoutMs, operation, idle } = limits;
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (error?: unknown): void => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.#held.delete(wake);
        if (error === undefined) resolve();
        else reject(error);
      };
      const wake = (): void => finish();
      const onAbort = (): void => {
        if (signal !== undefined) finish(abortError(signal, this.computer, operation));
      };
      if (signal?.aborted === true) {
        onAbort();
        return;
      }
      this.#held.add(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (Number.isFinite(timeoutMs)) {
        const left = idle ? timeoutMs : timeoutMs - (performance.now() - started);
        timer = setTimeout(
          () =>
            finish(
              coreError(
                'VLAB_ERR_OP_TIMEOUT',
                idle
                  ? `${operation} made no progress for ${timeoutMs} ms`
                  : `${operation} did not finish within ${timeoutMs} ms`,
                {
                  computer: this.computer,
                  details: idle ? { timeoutMs, operation, idle: true } : { timeoutMs, operation },
                },
              ),
            ),
          Math.max(0, left),
        );
      }
    });
  }
}
