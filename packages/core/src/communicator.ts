/** Content for {@link Communicator.put} and for stdin. @public */
export type TransferSource = string | Uint8Array | AsyncIterable<Uint8Array>;

/** Options of {@link Communicator.run}. @public */
export interface RunOptions {
  /** Sent to the program's stdin, then closed. The way to pass secrets: never in argv. */
  readonly stdin?: TransferSource;
  /** Kill the remote process group after this many milliseconds. Default: 60000. */
  readonly timeoutMs?: number;
  /** Kills the remote process group and rejects with the cancel error when it fires. */
  readonly signal?: AbortSignal;
  /** Run as root through sudo (POSIX) or elevated (Windows). */
  readonly sudo?: boolean;
  /**
   * Fail once stdout or stderr exceeds this many bytes, with the transport's own coded error
   * (`VLAB_ERR_SSH_OUTPUT_LIMIT` for `@vlab/ssh`). Default: 16 MiB.
   */
  readonly maxOutputBytes?: number;
}

/** What a finished program left. A non-zero exit is a result, not an error. @public */
export interface RunResult {
  /** The exit code; 128 + n where a signal n killed it and the shell reported it so. */
  readonly code: number;
  /** The signal that killed it, when the transport reports one (`'TERM'`, `'KILL'`). */
  readonly signal?: string | undefined;
  /** Everything the program wrote to stdout (at most `RunOptions.maxOutputBytes`). */
  readonly stdout: Buffer;
  /** Everything the program wrote to stderr (at most `RunOptions.maxOutputBytes`). */
  readonly stderr: Buffer;
}

/** Options of file transfers. @public */
export interface TransferOptions {
  /** Stops the transfer when it fires; the call rejects with the cancel error. */
  readonly signal?: AbortSignal;
  /** Give up after this many milliseconds without progress. Default: 60000. */
  readonly timeoutMs?: number;
  /** File mode of a written file, e.g. `0o600` for keys. Default: `0o644`. */
  readonly mode?: number;
  /** Called with bytes done (and total when known) while the transfer runs. */
  readonly onProgress?: (done: number, total: number | undefined) => void;
}

/** Options of {@link Communicator.waitUntilReachable}. @public */
export interface ReachOptions {
  /** Stops waiting when it fires; the call rejects with the cancel error. */
  readonly signal?: AbortSignal;
  /** Give up after this many milliseconds. Default: 600000 (VCL's wait_for_response). */
  readonly timeoutMs?: number;
}

/**
 * The connection to one computer's OS that an OS module receives in its context
 * (Packer's and Vagrant's communicator). The manager builds it — over `@vlab/ssh` with the
 * manager's known-hosts store — and OS modules never open connections themselves.
 *
 * @remarks
 * Commands are argument vectors; the communicator quotes them for the remote shell, so a caller
 * never pastes strings into a command line. It reconnects by itself after the machine rebooted,
 * but never re-runs a command that may already have started. Every call has a timeout and honours
 * its `signal`; on abort the remote process group ends.
 * @public
 */
export interface Communicator {
  /** The computer this talks to (its name, for errors and logs). */
  readonly computer: string;
  /** The remote command language: argv is quoted for a POSIX shell, or for PowerShell. */
  readonly shell: 'posix' | 'powershell';
  /**
   * Runs a program and returns its exit code and output, whatever the code.
   * Throws `VLAB_ERR_COMPUTER_UNREACHABLE`, `VLAB_ERR_OP_TIMEOUT`, `VLAB_ERR_OP_CANCELLED` or
   * `VLAB_ERR_HOSTKEY_MISMATCH`; an implementation may also throw coded errors of its own
   * transport (`@vlab/ssh`: `VLAB_ERR_SSH_*`, documented in docs/errors.md). OS modules let
   * those through unchanged, and list them in the conformance kit's `knownErrorCodes`.
   */
  run(argv: readonly string[], options?: RunOptions): Promise<RunResult>;
  /** Like {@link Communicator.run}, but a non-zero exit throws `VLAB_ERR_COMMAND_FAILED`. */
  runChecked(argv: readonly string[], options?: RunOptions): Promise<RunResult>;
  /** Writes a remote file atomically (temporary name, then rename). */
  put(remotePath: string, content: TransferSource, options?: TransferOptions): Promise<void>;
  /** Reads a whole remote file. Throws `VLAB_ERR_COMMAND_FAILED` if it does not exist. */
  get(remotePath: string, options?: TransferOptions): Promise<Buffer>;
  /** Streams a remote file (a disk image), with back-pressure. */
  getStream(remotePath: string, options?: TransferOptions): AsyncIterable<Uint8Array>;
  /** Resolves once the computer answers a probe command; throws `VLAB_ERR_OP_TIMEOUT` with the last error. */
  waitUntilReachable(options?: ReachOptions): Promise<void>;
  /**
   * Replaces the computer's pinned host keys with `publicKeys` (OpenSSH one-line format).
   * Call it over the still-trusted connection, right after regenerating the host keys (postLoad),
   * so that the next contact is not refused as a changed key.
   */
  trustHostKeys(
    publicKeys: readonly string[],
    options?: { readonly signal?: AbortSignal },
  ): Promise<void>;
}
