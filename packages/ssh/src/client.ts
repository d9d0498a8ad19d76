import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  abortError,
  commandFailedError,
  coreError,
  isVlabError,
  type ProgressSink,
  type TransferSource,
  throwIfCancelled,
} from '@vlab/core';
import type { SFTPWrapper } from 'ssh2';
import type { SshConnection } from './connection.js';
import { abortable, operationSignal, UNANSWERED_MS } from './deadline.js';
import { sshError } from './errors.js';
import { type ExecOptions, type ExecResult, execRemote, toReadable } from './exec.js';
import { parsePublicKey } from './host-key.js';
import { TransferMeter, type TransferSummary } from './meter.js';
import type { ConnectionPool } from './pool.js';
import { type RemoteProcess, type SpawnOptions, spawnRemote } from './remote-process.js';
import {
  type RemoteStats,
  readAll,
  remotePathError,
  SFTP_STATUS,
  sftpCall,
  sftpError,
  sftpStatus,
  toRemoteStats,
  writeAll,
} from './sftp.js';
import { computerOf, describeTarget, pinId, type SshTarget } from './target.js';
import { temporaryPath } from './temporary-path.js';

/** Waits for `promise` at most `ms`, ignoring its outcome. */
function within(promise: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    timer.unref();
    promise.then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      () => {
        clearTimeout(timer);
        resolve();
      },
    );
  });
}

/** Options of file operations. @public */
export interface FileOptions {
  /** Stops the operation; the call rejects with the cancel error. */
  readonly signal?: AbortSignal | undefined;
  /** Give up after this many ms. Default: no limit (keepalive notices a dead connection). */
  readonly timeoutMs?: number | undefined;
}

/** Options of {@link SshClient.writeFile}. @public */
export interface WriteFileOptions extends FileOptions {
  /** File mode of the written file. Default: `0o644`. */
  readonly mode?: number | undefined;
  /**
   * Write to a temporary name in the same directory, then rename over the final name, so that
   * the final name only ever holds a whole file. Default: true.
   */
  readonly atomic?: boolean | undefined;
  /** fsync the file before the rename (where the server has OpenSSH's extension). Default: true. */
  readonly fsync?: boolean | undefined;
  /** Progress events: bytes, rate, ETA. */
  readonly onProgress?: ProgressSink | undefined;
  /** The size, when known, for the ETA in progress events. */
  readonly total?: number | undefined;
}

/** Options of {@link SshClient.readStream} and {@link SshClient.readFile}. @public */
export interface ReadOptions extends FileOptions {
  /** Progress events: bytes, rate, ETA. */
  readonly onProgress?: ProgressSink | undefined;
}

/** Options of {@link SshClient.streamTo}. @public */
export interface StreamToOptions extends SpawnOptions {
  /** Progress events: bytes, rate, ETA. */
  readonly onProgress?: ProgressSink | undefined;
  /** The size, when known, for the ETA. */
  readonly total?: number | undefined;
}

/** Options of {@link SshClient.trustHostKeys}. @public */
export interface TrustOptions {
  /** Stops the check before the pin is replaced. */
  readonly signal?: AbortSignal | undefined;
}

let construct: ((pool: ConnectionPool, target: SshTarget) => SshClient) | undefined;

/** Makes a client; `SshPool.client` is the one caller, so the constructor stays out of the API. @internal */
export function createSshClient(pool: ConnectionPool, target: SshTarget): SshClient {
  return (construct as (pool: ConnectionPool, target: SshTarget) => SshClient)(pool, target);
}

/**
 * One target's view of an {@link SshPool}: run programs, move files and streams. Every call
 * takes a channel slot from the pool (waiting if the server's session limit is reached) and
 * gives it back when done. Commands are argument vectors, quoted by {@link quoteCommand}.
 * @public
 */
export class SshClient {
  readonly #pool: ConnectionPool;
  /** The login this client uses. */
  readonly target: SshTarget;

  static {
    construct = (pool, target) => new SshClient(pool, target);
  }

  /** Use {@link SshPool.client}. */
  private constructor(pool: ConnectionPool, target: SshTarget) {
    this.#pool = pool;
    this.target = target;
  }

  /** The computer's name (the target's `computer`, else its host). */
  get computer(): string {
    return computerOf(this.target);
  }

  /**
   * Runs a program and collects stdout, stderr, exit code and signal. A non-zero exit is a
   * result. On timeout or abort the whole remote process group ends (SIGTERM, then SIGKILL),
   * then the call rejects with `VLAB_ERR_OP_TIMEOUT` or `VLAB_ERR_OP_CANCELLED`. A dropped
   * connection after the command started rejects with `VLAB_ERR_CONNECTION_LOST`; the
   * command is never run a second time.
   */
  exec(argv: readonly string[], options?: ExecOptions): Promise<ExecResult> {
    return execRemote(this.#pool, this.target, argv, options);
  }

  /** Like {@link SshClient.exec}, but a non-zero exit throws `VLAB_ERR_COMMAND_FAILED`. */
  async execChecked(argv: readonly string[], options?: ExecOptions): Promise<ExecResult> {
    const result = await this.exec(argv, options);
    if (result.code !== 0) throw commandFailedError(argv, result, this.computer);
    return result;
  }

  /** Starts a program and hands back its streams, for pipelines with back-pressure. */
  spawn(argv: readonly string[], options?: SpawnOptions): Promise<RemoteProcess> {
    return spawnRemote(this.#pool, this.target, argv, options);
  }

  /**
   * Streams `source` into a remote program's stdin (`dd of=…`, `zstd -d | dd …`) with
   * back-pressure, hashing and progress, and resolves when the program exited 0. Throws
   * `VLAB_ERR_COMMAND_FAILED` on another exit code.
   */
  async streamTo(
    argv: readonly string[],
    source: TransferSource | Readable,
    options: StreamToOptions = {},
  ): Promise<TransferSummary> {
    const proc = await this.spawn(argv, options);
    const meter = new TransferMeter({
      onProgress: options.onProgress,
      total: options.total,
      phase: `stream to ${argv[0]}`,
      computer: this.computer,
    });
    const stderr: Buffer[] = [];
    let stderrBytes = 0;
    proc.stderr.on('data', (chunk: Buffer) => {
      stderrBytes += chunk.length;
      if (stderrBytes <= 64 * 1024) stderr.push(chunk);
    });
    proc.stdout.resume();
    const piped = pipeline(toReadable(source), meter, proc.stdin);
    piped.catch(() => undefined);
    const [exit] = await Promise.all([proc.exit, piped.catch(() => undefined)]);
    if (exit.code !== 0) {
      throw commandFailedError(
        argv,
        { code: exit.code, signal: exit.signal, stderr: Buffer.concat(stderr) },
        this.computer,
      );
    }
    await piped;
    return meter.summary;
  }

  /** Runs a program and returns its stdout as a metered stream (bytes, SHA-256, progress). */
  streamFrom(
    argv: readonly string[],
    options: SpawnOptions & { readonly onProgress?: ProgressSink | undefined } = {},
  ): TransferMeter {
    const meter = new TransferMeter({
      onProgress: options.onProgress,
      phase: `stream from ${Array.isArray(argv) ? argv[0] : 'command'}`,
      computer: this.computer,
    });
    void (async () => {
      const proc = await this.spawn(argv, options);
      proc.stdin.end();
      const stderr: Buffer[] = [];
      proc.stderr.on('data', (chunk: Buffer) => {
        if (stderr.length < 64) stderr.push(chunk);
      });
      meter.once('close', () => void proc.kill());
      proc.stdout.pipe(meter, { end: false });
      const exit = await proc.exit;
      await new Promise<void>((resolve) => {
        if (proc.stdout.readableEnded) resolve();
        else proc.stdout.once('end', () => resolve());
      });
      if (exit.code !== 0) {
        throw commandFailedError(
          argv,
          { code: exit.code, signal: exit.signal, stderr: Buffer.concat(stderr) },
          this.computer,
        );
      }
      meter.end();
    })().catch((error: unknown) => meter.destroy(error as Error));
    return meter;
  }

  /**
   * Runs `work` with an SFTP session, mapping failures to typed errors. A path SFTP cannot carry
   * unchanged is refused before anything is sent. On abort or timeout the call waits for `work`
   * to stop and clean up, but not for a machine that does not answer.
   */
  #withSftp<T>(
    options: FileOptions,
    operation: string,
    path: string,
    work: (sftp: SFTPWrapper, signal: AbortSignal, connection: SshConnection) => Promise<T>,
  ): Promise<T> {
    const invalid = remotePathError(this.target, operation, path);
    if (invalid !== undefined) return Promise.reject(invalid);
    const op = operationSignal(
      options.signal,
      options.timeoutMs ?? Number.POSITIVE_INFINITY,
      this.computer,
      `${operation} ${path} on ${this.target.host}`,
    );
    return this.#pool
      .withSession(this.target, op.signal, (connection) =>
        abortable(
          this.#sftpSession(connection, op.signal, operation, path, work),
          op.signal,
          UNANSWERED_MS,
          this.computer,
          operation,
        ),
      )
      .finally(() => op.dispose());
  }

  async #sftpSession<T>(
    connection: SshConnection,
    signal: AbortSignal,
    operation: string,
    path: string,
    work: (sftp: SFTPWrapper, signal: AbortSignal, connection: SshConnection) => Promise<T>,
  ): Promise<T> {
    const sftp = await connection.openSftp();
    const closed = new Promise<void>((resolve) => {
      sftp.once('close', () => resolve());
      connection.onClose(() => resolve());
    });
    try {
      if (signal.aborted) throw abortError(signal, this.computer, operation);
      return await work(sftp, signal, connection);
    } catch (error) {
      if (signal.aborted) throw abortError(signal, this.computer, operation);
      if (connection.closed) {
        throw coreError(
          'VLAB_ERR_CONNECTION_LOST',
          `the SSH connection to ${describeTarget(this.target)} dropped during ${operation} of ${path}`,
          { computer: this.computer, cause: connection.lastError, details: { path } },
        );
      }
      if (isVlabError(error)) throw error;
      throw sftpError(this.target, operation, path, error);
    } finally {
      sftpCall.end(sftp);
      await within(closed, 2000);
    }
  }

  /**
   * Writes a remote file from a string, bytes, an async iterable or a stream, with many SFTP
   * writes in flight, a SHA-256 computed on the fly and progress events. By default atomic: the
   * data goes to a temporary name in the same directory, is fsynced, then renamed over `path`,
   * so `path` never holds a partial file — not even when the server dies mid-transfer.
   */
  writeFile(
    path: string,
    content: TransferSource | Readable,
    options: WriteFileOptions = {},
  ): Promise<TransferSummary> {
    const atomic = options.atomic ?? true;
    const temp = atomic ? temporaryPath(path) : path;
    return this.#withSftp(options, 'write', path, async (sftp, signal, connection) => {
      const meter = new TransferMeter({
        onProgress: options.onProgress,
        total: options.total,
        phase: `write ${path}`,
        computer: this.computer,
      });
      const source = toReadable(content);
      pipeline(source, meter).catch((error: unknown) => meter.destroy(error as Error));
      const onAbort = (): void => {
        meter.destroy(abortError(signal, this.computer, `write ${path}`));
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
      let handle: Buffer | undefined;
      try {
        const mode = options.mode ?? 0o644;
        handle = await sftpCall.open(sftp, temp, 'w', mode);
        await sftpCall.fchmod(sftp, handle, mode);
        await writeAll(sftp, handle, meter);
        if (options.fsync ?? true) await sftpCall.fsync(sftp, handle).catch(() => undefined);
        const open = handle;
        handle = undefined;
        await sftpCall.close(sftp, open);
        if (atomic) await sftpCall.rename(sftp, temp, path);
        return await meter.summary;
      } catch (error) {
        source.destroy();
        // Best effort, and only while the session lives: a dead one never answers.
        if (!connection.closed) {
          if (handle !== undefined) await within(sftpCall.close(sftp, handle), 2000);
          if (atomic) await within(sftpCall.unlink(sftp, temp), 2000);
        }
        throw error;
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
    });
  }

  /** Reads a whole remote file. */
  async readFile(path: string, options: ReadOptions = {}): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of this.readStream(path, options)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  /**
   * Streams a remote file with many SFTP reads in flight and back-pressure (a slow consumer
   * pauses the reads); the returned stream also counts bytes, hashes them and reports progress
   * (`summary` resolves at the end). Destroying it stops the transfer.
   */
  readStream(path: string, options: ReadOptions = {}): TransferMeter {
    const meter = new TransferMeter({
      onProgress: options.onProgress,
      phase: `read ${path}`,
      computer: this.computer,
    });
    let stopped = false;
    meter.once('close', () => {
      stopped = true;
    });
    this.#withSftp(options, 'read', path, async (sftp, signal) => {
      const handle = await sftpCall.open(sftp, path, 'r', 0);
      try {
        for await (const chunk of readAll(sftp, handle)) {
          if (stopped) return;
          // Never end the stream as if whole once aborted: the caller gets the abort error.
          if (signal.aborted) throw abortError(signal, this.computer, 'read');
          if (!meter.write(chunk)) {
            await new Promise<void>((resolve) => {
              const done = (): void => {
                meter.off('drain', done);
                meter.off('close', done);
                signal.removeEventListener('abort', done);
                resolve();
              };
              meter.on('drain', done);
              meter.on('close', done);
              signal.addEventListener('abort', done, { once: true });
            });
          }
        }
      } finally {
        await within(sftpCall.close(sftp, handle), 2000);
      }
      meter.end();
    }).catch((error: unknown) => meter.destroy(error as Error));
    return meter;
  }

  /** What the remote path is, or undefined when it does not exist. Follows symbolic links. */
  stat(path: string, options: FileOptions = {}): Promise<RemoteStats | undefined> {
    return this.#withSftp(options, 'stat', path, async (sftp) => {
      try {
        return toRemoteStats(await sftpCall.stat(sftp, path));
      } catch (error) {
        if (sftpStatus(error) === SFTP_STATUS.NO_SUCH_FILE) return undefined;
        throw error;
      }
    });
  }

  /** Creates a directory and its missing parents (`mkdir -p`). Default mode `0o755`. */
  mkdirp(path: string, options: FileOptions & { readonly mode?: number } = {}): Promise<void> {
    const mode = options.mode ?? 0o755;
    return this.#withSftp(options, 'mkdir', path, async (sftp) => {
      const absolute = path.startsWith('/');
      const parts = posix.normalize(path).split('/').filter(Boolean);
      let current = absolute ? '' : '.';
      for (const part of parts) {
        current = `${current}/${part}`;
        const existing = await sftpCall.stat(sftp, current).catch((error: unknown) => {
          if (sftpStatus(error) === SFTP_STATUS.NO_SUCH_FILE) return undefined;
          throw error;
        });
        if (existing === undefined) {
          await sftpCall.mkdir(sftp, current, mode).catch(async (error: unknown) => {
            // Created meanwhile by someone else: fine if it is a directory now.
            const now = await sftpCall.stat(sftp, current).catch(() => undefined);
            if (now === undefined || !now.isDirectory()) throw error;
          });
        } else if (!existing.isDirectory()) {
          throw sftpError(
            this.target,
            'mkdir',
            current,
            new Error('exists and is not a directory'),
          );
        }
      }
    });
  }

  /** Removes a remote file; a missing file is fine. */
  remove(path: string, options: FileOptions = {}): Promise<void> {
    return this.#withSftp(options, 'remove', path, async (sftp) => {
      await sftpCall.unlink(sftp, path).catch((error: unknown) => {
        if (sftpStatus(error) !== SFTP_STATUS.NO_SUCH_FILE) throw error;
      });
    });
  }

  /**
   * Replaces the pinned host keys of this target with `publicKeys` (OpenSSH one-line format).
   * Nothing connects: the keys must come from a trusted source — what the machine printed over a
   * connection verified against the old pin (an OS module after regenerating them), or keys a
   * provisioner put on the disk itself before the first boot, when the machine does not answer
   * yet (contract: `Communicator.trustHostKeys`).
   */
  async trustHostKeys(publicKeys: readonly string[], options: TrustOptions = {}): Promise<void> {
    if (publicKeys.length === 0) {
      throw sshError('VLAB_ERR_SSH_KEY_INVALID', 'trustHostKeys needs at least one host key', {
        computer: this.computer,
      });
    }
    const lines = publicKeys.map((key) => {
      const parsed = parsePublicKey(key);
      return `${parsed.type} ${parsed.blob.toString('base64')}`;
    });
    if (options.signal !== undefined)
      throwIfCancelled(options.signal, this.computer, 'trusting host keys');
    await this.#pool.hostKeys.replace(pinId(this.target), lines);
  }
}
