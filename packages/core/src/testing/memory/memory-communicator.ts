import { abortError, sleep } from '../../abort.js';
import {
  type Communicator,
  type PutOptions,
  type ReachOptions,
  type RunOptions,
  type RunResult,
  type TransferOptions,
  type TransferSource,
  transferIdleTimeoutMs,
} from '../../communicator.js';
import { commandFailedError, coreError } from '../../errors/core-errors.js';
import { followSignal } from '../../follow-signal.js';
import { MEMORY_HOST_KEY_PATH, type MemoryMachine } from './memory-machine.js';

/**
 * The `Communicator` of a {@link MemoryMachine}, with the same rules as the SSH one: a
 * connection is made on first use and verified against the pinned host key; it lasts until the
 * machine goes down; every call honours its timeout and signal; a stalled machine hangs calls.
 * @public
 */
export class MemoryCommunicator implements Communicator {
  /** Always `posix`: the memory machine takes argv as is, with no shell. */
  readonly shell = 'posix' as const;
  readonly #machine: MemoryMachine;
  #pinned: readonly string[];
  #connectedBoot: number | undefined;

  /**
   * A communicator for `machine`, not yet connected. {@link MemoryLab.communicator} makes one per
   * computer, pinned to the key on its disk.
   * @param machine - The machine it talks to.
   * @param pinned - the host keys trusted for this machine (a known-hosts store of one entry)
   */
  constructor(machine: MemoryMachine, pinned: readonly string[]) {
    this.#machine = machine;
    this.#pinned = pinned;
  }

  /** The machine's name. */
  get computer(): string {
    return this.#machine.name;
  }

  /** The host keys now pinned. */
  get pinnedHostKeys(): readonly string[] {
    return this.#pinned;
  }

  /**
   * Runs one command of the {@link MemoryMachine} command set and returns its code and output,
   * whatever the code. Connects first, verifying the pinned host key once per boot. Honours
   * `signal`, `timeoutMs` (default 60000) and `stdin`; ignores `sudo` and `maxOutputBytes`.
   * Throws `VLAB_ERR_COMPUTER_UNREACHABLE` (power off, OS booting or shutting down, deploy
   * environment), `VLAB_ERR_HOSTKEY_MISMATCH`,
   * `VLAB_ERR_OP_TIMEOUT` or `VLAB_ERR_OP_CANCELLED`; a stalled machine makes it wait.
   */
  async run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const { signal, done } = withTimeout(
      options.signal,
      options.timeoutMs ?? 60_000,
      this.computer,
      argv[0] ?? 'command',
    );
    try {
      await this.#connect(signal);
      const stdin = await collect(options.stdin);
      const result = this.#machine.exec(argv, stdin);
      if (result.runsForMs !== undefined) await sleep(result.runsForMs, signal, this.computer);
      await this.#answer(signal);
      return {
        code: result.code,
        stdout: Buffer.from(result.stdout),
        stderr: Buffer.from(result.stderr),
      };
    } finally {
      done();
    }
  }

  /** Like {@link MemoryCommunicator.run}, but a non-zero exit throws `VLAB_ERR_COMMAND_FAILED`. */
  async runChecked(argv: readonly string[], options?: RunOptions): Promise<RunResult> {
    const result = await this.run(argv, options);
    if (result.code !== 0) throw commandFailedError(argv, result, this.computer);
    return result;
  }

  /**
   * Writes the file onto the machine's disk in one step (so atomically) with `mode` (default
   * `0o644`), `owner` and `group` (default root; `sudo` is not needed for them here), and reports
   * progress once, when done. A path that is not absolute throws `VLAB_ERR_ARGUMENT_INVALID`. Connects and fails like
   * {@link MemoryCommunicator.run}; the idle time (`transferIdleTimeoutMs`) bounds the whole call.
   */
  async put(remotePath: string, content: TransferSource, options: PutOptions = {}): Promise<void> {
    if (!remotePath.startsWith('/') || remotePath.includes('\0')) {
      throw coreError('VLAB_ERR_ARGUMENT_INVALID', 'put needs an absolute path without NUL', {
        computer: this.computer,
        details: { argument: 'remotePath' },
      });
    }
    const { signal, done } = withTimeout(
      options.signal,
      transferIdleTimeoutMs(options),
      this.computer,
      `put ${remotePath}`,
    );
    try {
      await this.#connect(signal);
      const data = await collect(content);
      await this.#answer(signal);
      this.#machine.put(remotePath, data, {
        mode: options.mode ?? 0o644,
        ...(options.owner === undefined ? {} : { owner: options.owner }),
        ...(options.group === undefined ? {} : { group: options.group }),
      });
      await this.#answer(signal);
      options.onProgress?.(data.length, data.length);
    } finally {
      done();
    }
  }

  /** Reads a whole file with `cat`; throws `VLAB_ERR_COMMAND_FAILED` when it does not exist. */
  async get(remotePath: string, options: TransferOptions = {}): Promise<Buffer> {
    const result = await this.runChecked(['cat', remotePath], {
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      timeoutMs: transferIdleTimeoutMs(options),
    });
    return result.stdout;
  }

  /** Yields the whole file as one chunk, read as {@link MemoryCommunicator.get} does. */
  async *getStream(remotePath: string, options: TransferOptions = {}): AsyncIterable<Uint8Array> {
    yield await this.get(remotePath, options);
  }

  /**
   * Tries to connect every 5 ms until the machine's OS answers (on, booted, not shutting down,
   * not stalled), then connects (verifying the host key). Throws `VLAB_ERR_OP_TIMEOUT` after `timeoutMs` (default 600000) or the cancel error.
   */
  async waitUntilReachable(options: ReachOptions = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? 600_000;
    const { signal, done } = withTimeout(
      options.signal,
      timeoutMs,
      this.computer,
      'waiting for the machine to answer',
    );
    try {
      for (;;) {
        if (this.#machine.reachable) {
          await this.#connect(signal);
          return;
        }
        await sleep(5, signal, this.computer);
      }
    } finally {
      done();
    }
  }

  /**
   * Replaces the pin at once; the connection of the current boot stays, and the first connection
   * after the next boot is verified against the new keys. Never fails.
   */
  async trustHostKeys(publicKeys: readonly string[]): Promise<void> {
    this.#pinned = [...publicKeys];
  }

  async #connect(signal: AbortSignal): Promise<void> {
    if (signal.aborted) throw abortError(signal, this.computer);
    // A connection attempt: refused while the power is off, the OS boots or shuts down.
    const refused = this.#machine.connectionAttempt();
    if (refused !== undefined) {
      this.#connectedBoot = undefined;
      throw coreError('VLAB_ERR_COMPUTER_UNREACHABLE', `the machine does not answer (${refused})`, {
        computer: this.computer,
      });
    }
    await this.#answer(signal);
    if (this.#connectedBoot === this.#machine.bootCount) return;
    const presented = this.#machine.files.get(MEMORY_HOST_KEY_PATH)?.toString('utf8').trim() ?? '';
    if (!this.#pinned.map((k) => k.trim()).includes(presented)) {
      throw coreError('VLAB_ERR_HOSTKEY_MISMATCH', 'the host key differs from the pinned one', {
        computer: this.computer,
        details: {
          presented: presented.slice(0, 40),
          pinned: this.#pinned.map((k) => k.slice(0, 40)),
        },
      });
    }
    this.#connectedBoot = this.#machine.bootCount;
  }

  // A stalled machine answers nothing: wait until it recovers or the call is cancelled.
  async #answer(signal: AbortSignal): Promise<void> {
    // Looks without asking: neither a connection attempt nor a BMC query.
    if (this.#machine.answering || this.#machine.meteredPower === 'off') return;
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(abortError(signal, this.computer));
      signal.addEventListener('abort', onAbort, { once: true });
      void this.#machine.whenUnstalled().then(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }
}

/** A call's signal, firing on the caller's signal or after `timeoutMs`, and how to end it. */
interface CallSignal {
  readonly signal: AbortSignal;
  /** Clears the timeout; call it when the call settles. */
  readonly done: () => void;
}

function withTimeout(
  signal: AbortSignal | undefined,
  timeoutMs: number,
  computer: string,
  what: string,
): CallSignal {
  const controller = new AbortController();
  if (signal?.aborted) {
    controller.abort(signal.reason);
    return { signal: controller.signal, done: () => {} };
  }
  // Not unref'd: on a stalled machine this timer may be all a pending call waits for, and a plain
  // `node` process must not exit under it. Cleared as soon as the call settles.
  const timer = setTimeout(
    () =>
      controller.abort(
        coreError('VLAB_ERR_OP_TIMEOUT', `${what} took longer than ${timeoutMs} ms`, { computer }),
      ),
    timeoutMs,
  );
  const unfollow =
    signal === undefined ? () => {} : followSignal(signal, (reason) => controller.abort(reason));
  return {
    signal: controller.signal,
    done: () => {
      clearTimeout(timer);
      unfollow();
    },
  };
}

async function collect(source: TransferSource | undefined): Promise<Buffer> {
  if (source === undefined) return Buffer.alloc(0);
  if (typeof source === 'string') return Buffer.from(source);
  if (source instanceof Uint8Array) return Buffer.from(source);
  const chunks: Buffer[] = [];
  for await (const chunk of source) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}
