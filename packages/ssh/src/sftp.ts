import type { Readable } from 'node:stream';
import { coreError, type VlabError } from '@vlab/core';
import type { SFTPWrapper, Stats } from 'ssh2';
import { sshError } from './errors.js';
import { unsendable } from './quote.js';
import { computerOf, describeTarget, type SshTarget } from './target.js';

/** SFTP status codes (draft-ietf-secsh-filexfer-02 §7). @internal */
export const SFTP_STATUS = { EOF: 1, NO_SUCH_FILE: 2, PERMISSION_DENIED: 3, FAILURE: 4 } as const;

/** What {@link SshClient.stat} tells about a remote path. @public */
export interface RemoteStats {
  /** Size in bytes. */
  readonly size: number;
  /** Permission bits and file type, as `st_mode`. */
  readonly mode: number;
  /** Owner user id. */
  readonly uid: number;
  /** Owner group id. */
  readonly gid: number;
  /** Modification time. */
  readonly mtime: Date;
  /** A regular file. */
  readonly isFile: boolean;
  /** A directory. */
  readonly isDirectory: boolean;
  /** A symbolic link (only from an lstat; stat follows links). */
  readonly isSymbolicLink: boolean;
}

/** @internal */
export function toRemoteStats(stats: Stats): RemoteStats {
  return {
    size: stats.size,
    mode: stats.mode,
    uid: stats.uid,
    gid: stats.gid,
    mtime: new Date(stats.mtime * 1000),
    isFile: stats.isFile(),
    isDirectory: stats.isDirectory(),
    isSymbolicLink: stats.isSymbolicLink(),
  };
}

/** The SFTP status code of an ssh2 SFTP error, if it has one. @internal */
export function sftpStatus(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** A `VLAB_ERR_SSH_SFTP_FAILED` naming the operation, the path and the host. @internal */
export function sftpError(
  target: SshTarget,
  operation: string,
  path: string,
  error: unknown,
): Error {
  const status = sftpStatus(error);
  const message = (error as { message?: string } | null)?.message ?? String(error);
  return sshError(
    'VLAB_ERR_SSH_SFTP_FAILED',
    `SFTP ${operation} of ${path} on ${describeTarget(target)} failed: ${message}`,
    { computer: computerOf(target), cause: error, details: { path, operation, status } },
  );
}

/**
 * `VLAB_ERR_ARGUMENT_INVALID` for a path that SFTP cannot carry unchanged (the same rule as
 * for command arguments), or undefined. ssh2 would send an unpaired surrogate as U+FFFD — two
 * different names, one file — and a NUL byte ends the server's SFTP session.
 * @internal
 */
export function remotePathError(
  target: SshTarget,
  operation: string,
  path: unknown,
): VlabError | undefined {
  const problem =
    typeof path === 'string'
      ? unsendable(path)
      : `is ${path === null ? 'null' : typeof path}, not a string`;
  if (problem === undefined) return undefined;
  return coreError(
    'VLAB_ERR_ARGUMENT_INVALID',
    `the path to ${operation} on ${describeTarget(target)} ${problem}`,
    {
      computer: computerOf(target),
      details: { operation, length: typeof path === 'string' ? path.length : undefined },
      hint: 'Give the remote path as valid text: a file name cannot hold a NUL byte, and an unpaired surrogate has no UTF-8 form.',
    },
  );
}

/** ssh2's callback SFTP calls as promises. @internal */
export const sftpCall = {
  open(sftp: SFTPWrapper, path: string, flags: string, mode: number): Promise<Buffer> {
    return new Promise((resolve, reject) =>
      sftp.open(path, flags as 'w', { mode }, (error, handle) =>
        error ? reject(error) : resolve(handle),
      ),
    );
  },
  close(sftp: SFTPWrapper, handle: Buffer): Promise<void> {
    return new Promise((resolve, reject) =>
      sftp.close(handle, (error?: Error | null) => (error ? reject(error) : resolve())),
    );
  },
  fchmod(sftp: SFTPWrapper, handle: Buffer, mode: number): Promise<void> {
    return new Promise((resolve, reject) =>
      sftp.fsetstat(handle, { mode }, (error?: Error | null) =>
        error ? reject(error) : resolve(),
      ),
    );
  },
  write(sftp: SFTPWrapper, handle: Buffer, data: Buffer, position: number): Promise<void> {
    return new Promise((resolve, reject) =>
      sftp.write(handle, data, 0, data.length, position, (error?: Error | null) =>
        error ? reject(error) : resolve(),
      ),
    );
  },
  read(sftp: SFTPWrapper, handle: Buffer, length: number, position: number): Promise<Buffer> {
    return new Promise((resolve, reject) =>
      sftp.read(handle, Buffer.allocUnsafe(length), 0, length, position, (error, bytes, data) =>
        error ? reject(error) : resolve(data.subarray(0, bytes)),
      ),
    );
  },
  fstat(sftp: SFTPWrapper, handle: Buffer): Promise<Stats> {
    return new Promise((resolve, reject) =>
      sftp.fstat(handle, (error, stats) => (error ? reject(error) : resolve(stats))),
    );
  },
  stat(sftp: SFTPWrapper, path: string): Promise<Stats> {
    return new Promise((resolve, reject) =>
      sftp.stat(path, (error, stats) => (error ? reject(error) : resolve(stats))),
    );
  },
  mkdir(sftp: SFTPWrapper, path: string, mode: number): Promise<void> {
    return new Promise((resolve, reject) =>
      sftp.mkdir(path, { mode }, (error?: Error | null) => (error ? reject(error) : resolve())),
    );
  },
  unlink(sftp: SFTPWrapper, path: string): Promise<void> {
    return new Promise((resolve, reject) =>
      sftp.unlink(path, (error?: Error | null) => (error ? reject(error) : resolve())),
    );
  },
  fsync(sftp: SFTPWrapper, handle: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      try {
        sftp.ext_openssh_fsync(handle, (error) => (error ? reject(error) : resolve()));
      } catch (error) {
        reject(error);
      }
    });
  },
  /** POSIX rename (replaces the target) where the server has OpenSSH's extension. */
  rename(sftp: SFTPWrapper, from: string, to: string): Promise<void> {
    return new Promise((resolve, reject) => {
      try {
        sftp.ext_openssh_rename(from, to, (error?: Error | null) =>
          error ? reject(error) : resolve(),
        );
      } catch {
        // No posix-rename@openssh.com: plain SFTP rename fails on an existing target.
        sftp.unlink(to, () =>
          sftp.rename(from, to, (error?: Error | null) => (error ? reject(error) : resolve())),
        );
      }
    });
  },
  end(sftp: SFTPWrapper): void {
    try {
      sftp.end();
    } catch {
      // already closed
    }
  },
};

/**
 * Writes a stream to an open handle with many writes in flight (SFTP's latency would otherwise
 * cap the rate). Back-pressure: at most `maxInFlight` writes or `maxBytes` pending. Resolves
 * with the bytes written.
 * @internal
 */
export async function writeAll(
  sftp: SFTPWrapper,
  handle: Buffer,
  source: Readable,
  maxInFlight = 32,
  maxBytes = 8 * 1024 * 1024,
): Promise<number> {
  let position = 0;
  let pendingBytes = 0;
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  for await (const chunk of source as AsyncIterable<Buffer>) {
    if (failure !== undefined) break;
    const data = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    if (data.length === 0) continue;
    const write = sftpCall.write(sftp, handle, data, position).then(
      () => {
        pendingBytes -= data.length;
        inFlight.delete(write);
      },
      (error: unknown) => {
        failure ??= error;
        inFlight.delete(write);
      },
    );
    inFlight.add(write);
    position += data.length;
    pendingBytes += data.length;
    while ((inFlight.size >= maxInFlight || pendingBytes >= maxBytes) && failure === undefined) {
      await Promise.race(inFlight);
    }
  }
  await Promise.all(inFlight);
  if (failure !== undefined) throw failure;
  return position;
}

/**
 * Reads a whole open file of `size` bytes in order, with many reads in flight; short reads are
 * completed. Yields chunks in file order.
 * @internal
 */
export async function* readAll(
  sftp: SFTPWrapper,
  handle: Buffer,
  chunkSize = 256 * 1024,
  maxInFlight = 16,
): AsyncGenerator<Buffer> {
  const size = (await sftpCall.fstat(sftp, handle)).size;
  let next = 0;
  const queue: Promise<Buffer>[] = [];
  const readRange = async (position: number, length: number): Promise<Buffer> => {
    const parts: Buffer[] = [];
    let done = 0;
    while (done < length) {
      const part = await sftpCall.read(sftp, handle, length - done, position + done);
      if (part.length === 0) break; // EOF: the file shrank
      parts.push(part);
      done += part.length;
    }
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
  };
  const fill = (): void => {
    while (queue.length < maxInFlight && next < size) {
      const length = Math.min(chunkSize, size - next);
      const promise = readRange(next, length);
      promise.catch(() => undefined); // observed when its turn comes
      queue.push(promise);
      next += length;
    }
  };
  fill();
  while (queue.length > 0) {
    const chunk = await (queue.shift() as Promise<Buffer>);
    fill();
    if (chunk.length > 0) yield chunk;
  }
  // A file that grew meanwhile: read on to EOF.
  let position = size;
  for (;;) {
    const chunk = await sftpCall.read(sftp, handle, chunkSize, position);
    if (chunk.length === 0) return;
    position += chunk.length;
    yield chunk;
  }
}
