import type { Readable } from 'node:stream';

/** What a backend call gets: the signal that ends it (the store's deadline and the caller's). @public */
export interface BackendCallOptions {
  /** Fires on the caller's abort or the store's deadline; the call stops and rejects. */
  readonly signal: AbortSignal;
}

/** Size and kind of a path in the store, as {@link StoreBackend.stat} reports it. @public */
export interface BackendStat {
  /** Whether the path is a directory. */
  readonly isDirectory: boolean;
  /** The size in bytes (of a file). */
  readonly size: number;
}

/**
 * The file operations an {@link ImageStore} needs, on absolute paths of one host. Backends are
 * thin: the names, manifest and reservation protocol live in `ImageStore`. A backend throws
 * {@link StoreFullError} when a write finds no room, and its own errors otherwise.
 * @public
 */
export interface StoreBackend {
  /** Where the store is, for messages: `/srv/images` or `ssh://store-host/srv/images`. */
  readonly location: string;
  /** Creates a directory and its parents; an existing one is fine. */
  mkdirp(path: string, options: BackendCallOptions): Promise<void>;
  /** Creates an empty file exclusively (`O_CREAT | O_EXCL`); `false` when it exists already. */
  createExclusive(path: string, options: BackendCallOptions): Promise<boolean>;
  /** The path's kind and size, `undefined` when it does not exist. */
  stat(path: string, options: BackendCallOptions): Promise<BackendStat | undefined>;
  /** The names in a directory (hidden ones included); `[]` when it does not exist. */
  list(path: string, options: BackendCallOptions): Promise<string[]>;
  /** A whole (small) file. */
  readFile(path: string, options: BackendCallOptions): Promise<Buffer>;
  /** Writes a new (small) file and flushes it to disk. */
  writeFile(path: string, data: Uint8Array, options: BackendCallOptions): Promise<void>;
  /** Writes `source` into a new file, flushes it to disk, and resolves with the bytes written. */
  writeStream(
    path: string,
    source: AsyncIterable<Uint8Array>,
    options: BackendCallOptions,
  ): Promise<number>;
  /** A file's bytes as a stream. */
  readStream(path: string, options: BackendCallOptions): Readable;
  /** Renames a file or directory (`rename(2)`, atomic within the store's file system). */
  rename(from: string, to: string, options: BackendCallOptions): Promise<void>;
  /** Removes a file or a directory tree; a missing path is fine. */
  remove(path: string, options: BackendCallOptions): Promise<void>;
  /**
   * Removes a directory only when it is empty (`rmdir(2)`); a missing or non-empty one stays as
   * it is, without an error — another revision of the image may be created in it meanwhile.
   */
  removeEmptyDirectory(path: string, options: BackendCallOptions): Promise<void>;
  /** Flushes a directory's entries (after a rename or a new file in it). */
  syncDirectory(path: string, options: BackendCallOptions): Promise<void>;
}

/**
 * Thrown by a {@link StoreBackend} when the store's file system has no room (`ENOSPC`); the store
 * turns it into core's `VLAB_ERR_STORE_FULL`.
 * @public
 */
export class StoreFullError extends Error {
  /** The file being written when the room ran out. */
  readonly path: string;

  /** @param path - The file being written. */
  constructor(path: string, options?: { readonly cause?: unknown }) {
    super(`no space left on the device writing ${path}`, options);
    this.name = 'StoreFullError';
    this.path = path;
  }
}
