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
   * Fail once stdout or stderr exceeds this many bytes: the remote process group is killed and the
   * call throws `VLAB_ERR_OUTPUT_LIMIT`. Default: 16 MiB.
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
  /**
   * Give up with `VLAB_ERR_OP_TIMEOUT` after this many milliseconds without progress (an idle
   * time, not a bound on the whole transfer: a large image may take hours). Default: 60000.
   * Contract 1.1; read it with {@link transferIdleTimeoutMs}.
   */
  readonly idleTimeoutMs?: number;
  /**
   * The same idle time as `idleTimeoutMs`, under its name before contract 1.1; used only when
   * `idleTimeoutMs` is absent.
   * @deprecated Since contract 1.1: elsewhere `timeoutMs` bounds a whole call, so the idle time
   * is now `idleTimeoutMs`. This alias is removed in contract 2.
   */
  readonly timeoutMs?: number;
  /** File mode of a written file, e.g. `0o600` for keys. Default: `0o644`. Ignored by reads. */
  readonly mode?: number;
  /** Called with bytes done (and total when known) while the transfer runs. */
  readonly onProgress?: (done: number, total: number | undefined) => void;
}

/**
 * Options of {@link Communicator.put} (contract 1.1): who writes the file and who owns it, so OS
 * modules never write files through a shell command.
 * @public
 */
export interface PutOptions extends TransferOptions {
  /**
   * Write as root (sudo on POSIX, elevated on Windows): for files the communicator's own user
   * cannot write, such as `/etc/sudoers.d/…`. The file is still written atomically.
   */
  readonly sudo?: boolean;
  /**
   * The account that owns the written file (a login name, or a numeric id as a string). Absent,
   * the writing user owns it (root with `sudo`). Changing the owner needs `sudo` on POSIX.
   */
  readonly owner?: string;
  /** The group of the written file (a name or a numeric id as a string); absent, the owner's default. */
  readonly group?: string;
}

/** The default idle time of a transfer, in milliseconds. @public */
export const DEFAULT_TRANSFER_IDLE_TIMEOUT_MS = 60_000;

/**
 * The idle time a transfer's options ask for: `idleTimeoutMs`, else the deprecated `timeoutMs`,
 * else {@link DEFAULT_TRANSFER_IDLE_TIMEOUT_MS}. Every communicator reads the option through this,
 * so the alias means the same everywhere.
 * @public
 */
export function transferIdleTimeoutMs(options: TransferOptions = {}): number {
  return options.idleTimeoutMs ?? options.timeoutMs ?? DEFAULT_TRANSFER_IDLE_TIMEOUT_MS;
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
  /**
   * The remote command language. `posix`: `argv` is a program and its arguments, quoted for a POSIX
   * shell. `powershell` (Windows): `argv[0]` is the module's own PowerShell code, run as a script
   * block, and every further element a verbatim literal bound in order to its `param()` or `$args`;
   * data never goes into `argv[0]`, and long or secret values go on stdin.
   */
  readonly shell: 'posix' | 'powershell';
  /**
   * Runs a program and returns its exit code and output, whatever the code.
   * Throws `VLAB_ERR_COMPUTER_UNREACHABLE`, `VLAB_ERR_OP_TIMEOUT`, `VLAB_ERR_OP_CANCELLED`,
   * `VLAB_ERR_HOSTKEY_MISMATCH`, and since contract 1.1 the transport-neutral
   * `VLAB_ERR_CONNECTION_LOST` (the connection dropped while the program may have been running),
   * `VLAB_ERR_OUTPUT_LIMIT` (`maxOutputBytes` exceeded) and `VLAB_ERR_ARGUMENT_INVALID` (an
   * argument it cannot pass safely: NUL, a lone surrogate, a program name starting with `-`). An
   * implementation throws coded errors of its own only for what is its transport's own (`@vlab/ssh`:
   * authentication, handshake, an unknown host key — `VLAB_ERR_SSH_*`, in docs/errors.md). OS
   * modules let all of them through unchanged, and list a transport's own codes in the conformance
   * kit's `knownErrorCodes`.
   */
  run(argv: readonly string[], options?: RunOptions): Promise<RunResult>;
  /** Like {@link Communicator.run}, but a non-zero exit throws `VLAB_ERR_COMMAND_FAILED`. */
  runChecked(argv: readonly string[], options?: RunOptions): Promise<RunResult>;
  /**
   * Writes a remote file atomically (temporary name in the same directory, then rename), with
   * `options.mode`, and since contract 1.1 as root (`sudo`) and with an `owner` and `group`: the
   * file appears whole, with its final mode and owner, or not at all. A path the transport cannot
   * pass safely (not absolute, NUL) throws `VLAB_ERR_ARGUMENT_INVALID`.
   */
  put(remotePath: string, content: TransferSource, options?: PutOptions): Promise<void>;
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
