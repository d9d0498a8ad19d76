import {
  type Communicator,
  commandFailedError,
  coreError,
  type PutOptions,
  type ReachOptions,
  type RunOptions,
  type RunResult,
  type TransferOptions,
  type TransferSource,
  transferIdleTimeoutMs,
} from '@vlab/core';
import type { SshClient } from './client.js';
import { type IdleSignal, idleSignal } from './deadline.js';
import { putArgumentsError } from './put-arguments.js';
import { SFTP_STATUS, sftpStatus } from './sftp.js';
import { sudoPut } from './sudo-put.js';
import { waitForSsh } from './wait-for-ssh.js';

/** Options of {@link SshCommunicator}. @public */
export interface SshCommunicatorOptions {
  /** The computer's name for errors and logs. Default: the client's computer. */
  readonly computer?: string | undefined;
  /**
   * The longest pause between two attempts of {@link SshCommunicator.waitUntilReachable}, in ms
   * (the pause starts at 500 ms and doubles up to it). Default: 2000: a booting computer is
   * seen within about 2 s of its sshd answering, at the cost of one TCP connection per 2 s.
   */
  readonly reachMaxDelayMs?: number | undefined;
}

/**
 * The SSH implementation of `@vlab/core`'s `Communicator`, over a pooled {@link SshClient}: what
 * OS modules receive in their context. The client's target decides the shell: POSIX (argv quoted
 * for `sh`), or PowerShell on Windows' OpenSSH (`argv[0]` the module's code, the rest verbatim
 * literals; see `powerShellScript`). The manager builds it with its known-hosts store; closing the
 * pool is the manager's business.
 * @public
 */
export class SshCommunicator implements Communicator {
  /** The remote command language: the client target's `shell`, `posix` by default. */
  readonly shell: 'posix' | 'powershell';
  /** The computer's name. */
  readonly computer: string;
  readonly #client: SshClient;
  readonly #reachMaxDelayMs: number;

  constructor(client: SshClient, options: SshCommunicatorOptions = {}) {
    this.#client = client;
    this.#reachMaxDelayMs = options.reachMaxDelayMs ?? 2000;
    this.computer = options.computer ?? client.computer;
    this.shell = client.target.shell ?? 'posix';
  }

  /** Runs a program (see `SshClient.exec`); defaults: 60 s timeout, 16 MiB output cap. */
  async run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const result = await this.#client.exec(argv, {
      stdin: options.stdin,
      timeoutMs: options.timeoutMs ?? 60_000,
      signal: options.signal,
      sudo: options.sudo,
      maxOutputBytes: options.maxOutputBytes ?? 16 * 1024 * 1024,
    });
    return {
      code: result.code,
      signal: result.signal,
      stdout: result.stdout,
      stderr: result.stderr,
    };
  }

  /** Like `run`; a non-zero exit throws `VLAB_ERR_COMMAND_FAILED`. */
  async runChecked(argv: readonly string[], options?: RunOptions): Promise<RunResult> {
    const result = await this.run(argv, options);
    if (result.code !== 0) throw commandFailedError(argv, result, this.computer);
    return result;
  }

  /**
   * Writes a file atomically: a temporary name in the same directory, with the final mode (and
   * owner), then a rename; on failure or abort the temporary file is removed. As the login user
   * over SFTP; with `sudo`, `owner` or `group` as root, through one fixed script under `sudo -n`
   * that gets the content on stdin and every value as a quoted argument. The idle time
   * (`idleTimeoutMs`, else `timeoutMs`, default 60000) fails the call only after that long
   * without progress. A path that is not absolute, or an invalid mode, owner or group, throws
   * `VLAB_ERR_ARGUMENT_INVALID` before anything runs.
   */
  async put(remotePath: string, content: TransferSource, options: PutOptions = {}): Promise<void> {
    const invalid = putArgumentsError(this.#client.target, remotePath, options);
    if (invalid !== undefined) throw invalid;
    const onProgress = options.onProgress;
    const idle = this.#idle(options, `put ${remotePath}`);
    const mode = options.mode ?? 0o644;
    try {
      if (options.sudo === true || options.owner !== undefined || options.group !== undefined) {
        await sudoPut(this.#client, remotePath, content, {
          signal: idle.signal,
          mode,
          owner: options.owner,
          group: options.group,
          onData: () => idle.touch(),
          onProgress:
            onProgress === undefined ? undefined : (event) => onProgress(event.done, event.total),
        });
        return;
      }
      await this.#client.writeFile(remotePath, content, {
        signal: idle.signal,
        mode,
        atomic: true,
        onProgress: (event) => {
          idle.touch();
          onProgress?.(event.done, event.total);
        },
      });
    } finally {
      idle.dispose();
    }
  }

  /** Reads a whole file over SFTP; a missing file throws `VLAB_ERR_COMMAND_FAILED`. */
  async get(remotePath: string, options: TransferOptions = {}): Promise<Buffer> {
    const chunks: Uint8Array[] = [];
    for await (const chunk of this.getStream(remotePath, options)) chunks.push(chunk);
    return Buffer.concat(chunks);
  }

  /**
   * Streams a file over SFTP with back-pressure. The idle time (`idleTimeoutMs`, else
   * `timeoutMs`, default 60000) bounds the wait for each next chunk, not the time the consumer
   * takes.
   */
  async *getStream(remotePath: string, options: TransferOptions = {}): AsyncIterable<Uint8Array> {
    const onProgress = options.onProgress;
    const idle = this.#idle(options, `get ${remotePath}`);
    const stream = this.#client.readStream(remotePath, {
      signal: idle.signal,
      onProgress:
        onProgress === undefined ? undefined : (event) => onProgress(event.done, event.total),
    });
    const iterator = stream[Symbol.asyncIterator]();
    try {
      for (;;) {
        idle.touch();
        const next = await iterator.next();
        idle.pause();
        if (next.done === true) return;
        yield next.value as Buffer;
      }
    } catch (error) {
      throw this.#missing(remotePath, error);
    } finally {
      idle.dispose();
      stream.destroy();
    }
  }

  /**
   * Polls with {@link waitForSsh} until the probe `true` succeeds, pausing at most
   * `reachMaxDelayMs` between attempts.
   */
  async waitUntilReachable(options: ReachOptions = {}): Promise<void> {
    await waitForSsh(this.#client, {
      signal: options.signal,
      timeoutMs: options.timeoutMs ?? 600_000,
      maxDelayMs: this.#reachMaxDelayMs,
    });
  }

  /** Replaces the pinned host keys after checking the current pin (see `SshClient.trustHostKeys`). */
  trustHostKeys(
    publicKeys: readonly string[],
    options: { readonly signal?: AbortSignal } = {},
  ): Promise<void> {
    return this.#client.trustHostKeys(publicKeys, options);
  }

  #idle(options: TransferOptions, operation: string): IdleSignal {
    return idleSignal(options.signal, transferIdleTimeoutMs(options), this.computer, operation);
  }

  /** The contract: reading a file that does not exist is `VLAB_ERR_COMMAND_FAILED`. */
  #missing(remotePath: string, error: unknown): unknown {
    const cause = (error as { cause?: unknown } | null)?.cause;
    if (sftpStatus(cause) !== SFTP_STATUS.NO_SUCH_FILE) return error;
    return coreError('VLAB_ERR_COMMAND_FAILED', `${remotePath} does not exist`, {
      computer: this.computer,
      cause: error,
      details: { program: 'sftp', path: remotePath, exitCode: 2, stderrTail: 'No such file' },
    });
  }
}
