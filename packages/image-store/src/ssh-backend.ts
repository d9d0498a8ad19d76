import { Readable } from 'node:stream';
import { isVlabError, throwIfCancelled } from '@vlab/core';
import {
  type BackendCallOptions,
  type BackendStat,
  type StoreBackend,
  StoreFullError,
} from './backend.js';

// Every command is an argument vector (quoted by @vlab/ssh); the two `sh -c` scripts are
// constants that take the path as `$1`, never a pasted string.
const CREATE_EXCLUSIVE = 'set -C && : > "$1"';
const NO_SPACE = /No space left on device|Disk quota exceeded/;

function isNoSpace(error: unknown): boolean {
  if (!isVlabError(error)) return false;
  const stderr = error.details['stderrTail'];
  return NO_SPACE.test(typeof stderr === 'string' ? stderr : error.message);
}

/** The options {@link SshStoreClient} calls pass. @public */
export interface SshStoreCallOptions {
  /** Ends the call (and the remote process group of a command). */
  readonly signal?: AbortSignal | undefined;
  /** The call's own deadline. */
  readonly timeoutMs?: number | undefined;
}

/**
 * The part of `@vlab/ssh`'s `SshClient` the SSH backend uses — pass an `SshClient` (from
 * `SshPool.client`). Declared structurally so that this package needs no dependency on a
 * particular `@vlab/ssh` release; every command is an argument vector, quoted by `@vlab/ssh`.
 * @public
 */
export interface SshStoreClient {
  /** The computer's name, for messages. */
  readonly computer: string;
  /** Runs a program; a non-zero exit is a result. */
  exec(
    argv: readonly string[],
    options?: SshStoreCallOptions,
  ): Promise<{ readonly code: number; readonly stdout: Buffer; readonly stderr: Buffer }>;
  /** Runs a program; a non-zero exit throws `VLAB_ERR_COMMAND_FAILED`. */
  execChecked(
    argv: readonly string[],
    options?: SshStoreCallOptions,
  ): Promise<{ readonly code: number; readonly stdout: Buffer; readonly stderr: Buffer }>;
  /** Streams `source` into a program's stdin; resolves with the bytes sent when it exited 0. */
  streamTo(
    argv: readonly string[],
    source: Readable,
    options?: SshStoreCallOptions,
  ): Promise<{ readonly bytes: number }>;
  /** Creates a directory and its parents (SFTP). */
  mkdirp(path: string, options?: SshStoreCallOptions): Promise<void>;
  /** A path's kind and size, `undefined` when it does not exist (SFTP). */
  stat(
    path: string,
    options?: SshStoreCallOptions,
  ): Promise<{ readonly isDirectory: boolean; readonly size: number } | undefined>;
  /** A whole file (SFTP). */
  readFile(path: string, options?: SshStoreCallOptions): Promise<Buffer>;
  /** A file as a stream (SFTP). */
  readStream(path: string, options?: SshStoreCallOptions): Readable;
}

/**
 * A store in a directory of another host, through an `SshClient` of `@vlab/ssh` ({@link SshStoreClient}): SFTP for small
 * files and stat, `dd` for the data (its `No space left on device` becomes store full), and
 * coreutils (`mv`, `rm`, `ls`, `sync`) run as argument vectors. The login user must own the root.
 * @public
 */
export class SshBackend implements StoreBackend {
  /** The client that reaches the store's host. */
  readonly client: SshStoreClient;
  /** The store's root directory on that host (absolute). */
  readonly root: string;
  /** `ssh://<computer><root>`. */
  readonly location: string;

  /**
   * @param client - Reaches the host that holds the store.
   * @param root - The store's root directory on that host, an absolute path.
   */
  constructor(client: SshStoreClient, root: string) {
    this.client = client;
    this.root = root;
    this.location = `ssh://${client.computer}${root}`;
  }

  /** {@inheritDoc StoreBackend.mkdirp} */
  async mkdirp(path: string, options: BackendCallOptions): Promise<void> {
    await this.client.mkdirp(path, { signal: options.signal });
  }

  /** {@inheritDoc StoreBackend.createExclusive} */
  async createExclusive(path: string, options: BackendCallOptions): Promise<boolean> {
    const result = await this.client.exec(['sh', '-c', CREATE_EXCLUSIVE, 'sh', path], {
      signal: options.signal,
    });
    if (result.code === 0) return true;
    if ((await this.stat(path, options)) !== undefined) return false;
    const stderr = result.stderr.toString('utf8');
    if (NO_SPACE.test(stderr)) throw new StoreFullError(path);
    throw new Error(`cannot create ${path} on ${this.client.computer}: ${stderr.trim()}`);
  }

  /** {@inheritDoc StoreBackend.stat} */
  async stat(path: string, options: BackendCallOptions): Promise<BackendStat | undefined> {
    const s = await this.client.stat(path, { signal: options.signal });
    return s === undefined ? undefined : { isDirectory: s.isDirectory, size: s.size };
  }

  /** {@inheritDoc StoreBackend.list} */
  async list(path: string, options: BackendCallOptions): Promise<string[]> {
    const s = await this.stat(path, options);
    if (s === undefined || !s.isDirectory) return [];
    const result = await this.client.execChecked(['ls', '-1A', '--', path], {
      signal: options.signal,
    });
    return result.stdout
      .toString('utf8')
      .split('\n')
      .filter((line) => line !== '');
  }

  /** {@inheritDoc StoreBackend.readFile} */
  readFile(path: string, options: BackendCallOptions): Promise<Buffer> {
    return this.client.readFile(path, { signal: options.signal });
  }

  /** {@inheritDoc StoreBackend.writeFile} */
  async writeFile(path: string, data: Uint8Array, options: BackendCallOptions): Promise<void> {
    await this.writeStream(path, [data], options);
  }

  /** {@inheritDoc StoreBackend.writeStream} */
  async writeStream(
    path: string,
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    options: BackendCallOptions,
  ): Promise<number> {
    throwIfCancelled(options.signal);
    try {
      const summary = await this.client.streamTo(
        ['env', 'LC_ALL=C', 'dd', `of=${path}`, 'bs=1M', 'conv=excl,fsync', 'status=none'],
        Readable.from(source, { objectMode: false }),
        { signal: options.signal },
      );
      return summary.bytes;
    } catch (error) {
      if (isNoSpace(error)) throw new StoreFullError(path, { cause: error });
      throw error;
    }
  }

  /** {@inheritDoc StoreBackend.readStream} */
  readStream(path: string, options: BackendCallOptions): Readable {
    return this.client.readStream(path, { signal: options.signal });
  }

  /** {@inheritDoc StoreBackend.rename} */
  async rename(from: string, to: string, options: BackendCallOptions): Promise<void> {
    await this.client.execChecked(['mv', '-T', '--', from, to], { signal: options.signal });
  }

  /** {@inheritDoc StoreBackend.remove} */
  async remove(path: string, _options: BackendCallOptions): Promise<void> {
    // Not cancelled: removing is what cleanups do after an abort.
    await this.client.execChecked(['rm', '-rf', '--', path], { timeoutMs: 120_000 });
  }

  /** {@inheritDoc StoreBackend.removeEmptyDirectory} */
  async removeEmptyDirectory(path: string, _options: BackendCallOptions): Promise<void> {
    // rmdir refuses a non-empty directory; that, or a missing one, is the answer, not an error.
    await this.client.exec(['rmdir', '--', path], { timeoutMs: 60_000 });
  }

  /** {@inheritDoc StoreBackend.syncDirectory} */
  async syncDirectory(path: string, options: BackendCallOptions): Promise<void> {
    await this.client.execChecked(['sync', '--', path], { signal: options.signal });
  }
}
