import { posix } from 'node:path';
import {
  commandFailedError,
  type OsContext,
  type RunOptions,
  type RunResult,
  type TransferSource,
} from '@vlab/core';

/** Options of one guest command. */
export interface CommandOptions {
  /** Sent to the program's stdin: the way secrets travel. */
  readonly stdin?: TransferSource;
  /** Kill it after this long (never later than the context's deadline). Default: 60000. */
  readonly timeoutMs?: number;
  /** `false` runs it as the login user even when the config says sudo (its environment intact). */
  readonly elevated?: boolean;
}

/** Options of {@link Guest.writeFile}. */
export interface WriteFileOptions {
  /** The file's mode. Default: `0o644`. */
  readonly mode?: number;
  /** The account that owns it (a login or a numeric id); absent, root (the writer). */
  readonly owner?: string;
  /** Its group; absent, the owner's. */
  readonly group?: string;
}

/** The longest a single guest command may run unless a step says otherwise. */
const COMMAND_TIMEOUT_MS = 60_000;

/**
 * The guest as the module's steps see it: programs run through the context's communicator, as
 * root (through sudo when the config says so), bounded by the context's deadline and signal.
 * Commands are argument vectors; where a step needs the shell (a glob, a loop) it runs a fixed
 * script with `sh -c` and hands every variable part as a positional argument, so data is never
 * pasted into a command line. Files are written through the communicator's `put`, never through
 * a shell.
 */
export class Guest {
  readonly ctx: OsContext;
  readonly #sudo: boolean;

  constructor(ctx: OsContext, sudo: boolean) {
    this.ctx = ctx;
    this.#sudo = sudo;
  }

  /** The computer's name, for errors. */
  get computer(): string {
    return this.ctx.computer.name;
  }

  /** Runs a program; a non-zero exit is returned, not thrown. */
  run(argv: readonly string[], options: CommandOptions = {}): Promise<RunResult> {
    const run: RunOptions = {
      signal: this.ctx.signal,
      sudo: this.#sudo && options.elevated !== false,
      timeoutMs: Math.max(
        1,
        Math.min(options.timeoutMs ?? COMMAND_TIMEOUT_MS, this.ctx.remainingMs()),
      ),
      ...(options.stdin === undefined ? {} : { stdin: options.stdin }),
    };
    return this.ctx.communicator.run(argv, run);
  }

  /** Runs a program; a non-zero exit throws `VLAB_ERR_COMMAND_FAILED`. */
  async runChecked(argv: readonly string[], options: CommandOptions = {}): Promise<string> {
    const result = await this.run(argv, options);
    if (result.code !== 0) throw commandFailedError(argv, result, this.computer);
    return result.stdout.toString('utf8');
  }

  /**
   * Runs a fixed POSIX shell script; `args` become `$1`, `$2`, … (never part of the script).
   * `name` stands for the script in errors and in `$0`.
   */
  script(
    name: string,
    script: string,
    args: readonly string[] = [],
    options: CommandOptions = {},
  ): Promise<RunResult> {
    return this.run(['sh', '-c', script, name, ...args], options);
  }

  /** Like {@link Guest.script}; a non-zero exit throws `VLAB_ERR_COMMAND_FAILED` naming `name`. */
  async scriptChecked(
    name: string,
    script: string,
    args: readonly string[] = [],
    options: CommandOptions = {},
  ): Promise<string> {
    const result = await this.script(name, script, args, options);
    if (result.code !== 0) throw commandFailedError([name], result, this.computer);
    return result.stdout.toString('utf8');
  }

  /** A file's content, or `undefined` when it does not exist. */
  async readFile(path: string): Promise<string | undefined> {
    return (await this.readBytes(path))?.toString('utf8');
  }

  /** A file's bytes, or `undefined` when it does not exist (read as root: any file). */
  async readBytes(path: string): Promise<Buffer | undefined> {
    const result = await this.script(
      'read-file',
      'if [ -e "$1" ]; then exec cat -- "$1"; fi; exit 3',
      [path],
    );
    if (result.code === 3) return undefined;
    if (result.code !== 0) throw commandFailedError(['cat', path], result, this.computer);
    return result.stdout;
  }

  /**
   * Writes a file through the communicator's `put` (atomic: a temporary file in the same
   * directory, then rename; as root when the config says sudo), after creating its directory;
   * returns false and writes nothing when the file already holds `content`. No shell is involved.
   */
  async writeFile(
    path: string,
    content: string | Buffer,
    options: WriteFileOptions = {},
  ): Promise<boolean> {
    const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    const current = await this.readBytes(path);
    if (current?.equals(bytes)) return false;
    await this.runChecked(['mkdir', '-p', '--', posix.dirname(path)]);
    await this.ctx.communicator.put(path, bytes, {
      sudo: this.#sudo,
      mode: options.mode ?? 0o644,
      ...(options.owner === undefined ? {} : { owner: options.owner }),
      ...(options.group === undefined ? {} : { group: options.group }),
      signal: this.ctx.signal,
      idleTimeoutMs: Math.max(1, Math.min(COMMAND_TIMEOUT_MS, this.ctx.remainingMs())),
    });
    return true;
  }

  /** Removes files (no error when they do not exist); returns whether any existed. */
  async remove(...paths: readonly string[]): Promise<boolean> {
    const out = await this.scriptChecked(
      'remove-files',
      'n=0; for f in "$@"; do if [ -e "$f" ] || [ -L "$f" ]; then rm -rf -- "$f" && n=$((n+1)); fi; done; echo "$n"',
      paths,
    );
    return Number(out.trim()) > 0;
  }
}
