import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, rmdir, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { throwIfCancelled } from '@vlab/core';
import {
  type BackendCallOptions,
  type BackendStat,
  type StoreBackend,
  StoreFullError,
} from './backend.js';

function errno(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function full(path: string, error: unknown): unknown {
  return errno(error) === 'ENOSPC' || errno(error) === 'EDQUOT'
    ? new StoreFullError(path, { cause: error })
    : error;
}

/** A store in a directory of this host, through `node:fs`. @public */
export class LocalBackend implements StoreBackend {
  /** The store's root directory (absolute). */
  readonly root: string;
  /** The root directory. */
  readonly location: string;

  /** @param root - The store's root directory, an absolute path. */
  constructor(root: string) {
    this.root = root;
    this.location = root;
  }

  /** {@inheritDoc StoreBackend.mkdirp} */
  async mkdirp(path: string, options: BackendCallOptions): Promise<void> {
    throwIfCancelled(options.signal);
    try {
      await mkdir(path, { recursive: true });
    } catch (error) {
      throw full(path, error);
    }
  }

  /** {@inheritDoc StoreBackend.createExclusive} */
  async createExclusive(path: string, options: BackendCallOptions): Promise<boolean> {
    throwIfCancelled(options.signal);
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(path, 'wx', 0o644);
    } catch (error) {
      if (errno(error) === 'EEXIST') return false;
      throw full(path, error);
    }
    await handle.close();
    return true;
  }

  /** {@inheritDoc StoreBackend.stat} */
  async stat(path: string, options: BackendCallOptions): Promise<BackendStat | undefined> {
    throwIfCancelled(options.signal);
    try {
      const s = await stat(path);
      return { isDirectory: s.isDirectory(), size: s.size };
    } catch (error) {
      if (errno(error) === 'ENOENT') return undefined;
      throw error;
    }
  }

  /** {@inheritDoc StoreBackend.list} */
  async list(path: string, options: BackendCallOptions): Promise<string[]> {
    throwIfCancelled(options.signal);
    try {
      return await readdir(path);
    } catch (error) {
      if (errno(error) === 'ENOENT') return [];
      throw error;
    }
  }

  /** {@inheritDoc StoreBackend.readFile} */
  readFile(path: string, options: BackendCallOptions): Promise<Buffer> {
    return readFile(path, { signal: options.signal });
  }

  /** {@inheritDoc StoreBackend.writeFile} */
  async writeFile(path: string, data: Uint8Array, options: BackendCallOptions): Promise<void> {
    throwIfCancelled(options.signal);
    const handle = await open(path, 'wx', 0o644).catch((error: unknown) => {
      throw full(path, error);
    });
    try {
      await handle.writeFile(data);
      await handle.sync();
    } catch (error) {
      throw full(path, error);
    } finally {
      await handle.close();
    }
  }

  /** {@inheritDoc StoreBackend.writeStream} */
  async writeStream(
    path: string,
    source: AsyncIterable<Uint8Array>,
    options: BackendCallOptions,
  ): Promise<number> {
    throwIfCancelled(options.signal);
    const handle = await open(path, 'wx', 0o644).catch((error: unknown) => {
      throw full(path, error);
    });
    let bytes = 0;
    try {
      for await (const chunk of source) {
        throwIfCancelled(options.signal);
        let offset = 0;
        while (offset < chunk.length) {
          const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset);
          offset += bytesWritten;
        }
        bytes += chunk.length;
      }
      throwIfCancelled(options.signal);
      await handle.sync();
      return bytes;
    } catch (error) {
      throw full(path, error);
    } finally {
      await handle.close();
    }
  }

  /** {@inheritDoc StoreBackend.readStream} */
  readStream(path: string, options: BackendCallOptions): Readable {
    return createReadStream(path, { signal: options.signal });
  }

  /** {@inheritDoc StoreBackend.rename} */
  async rename(from: string, to: string, options: BackendCallOptions): Promise<void> {
    throwIfCancelled(options.signal);
    await rename(from, to);
  }

  /** {@inheritDoc StoreBackend.remove} */
  async remove(path: string, _options: BackendCallOptions): Promise<void> {
    // Not cancelled: removing is what cleanups do after an abort.
    await rm(path, { recursive: true, force: true });
  }

  /** {@inheritDoc StoreBackend.removeEmptyDirectory} */
  async removeEmptyDirectory(path: string, _options: BackendCallOptions): Promise<void> {
    try {
      await rmdir(path);
    } catch (error) {
      if (!['ENOENT', 'ENOTEMPTY', 'EEXIST'].includes(errno(error) ?? '')) throw error;
    }
  }

  /** {@inheritDoc StoreBackend.syncDirectory} */
  async syncDirectory(path: string, options: BackendCallOptions): Promise<void> {
    throwIfCancelled(options.signal);
    const handle = await open(path, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}
