import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, open, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { coreError } from './errors/core-errors.js';
import { IDENTITY_DISK, type IdentityDiskFile } from './identity-disk.js';

/**
 * The size of an identity disk for `files`, in KiB: 1 MiB (128 inodes, ~900 KiB for data) unless
 * the files need more. mkfs.ext4 refuses 64 KiB, and 128 KiB has too few inodes for three key
 * pairs; 1 MiB leaves room for every host key type and then some.
 */
function identityDiskKiB(files: readonly IdentityDiskFile[]): number {
  const dataKiB = files.reduce((sum, f) => sum + Math.ceil(f.data.length / 1024) + 1, 0);
  return Math.max(1024, 2 * dataKiB + 256, (files.length * 2 + 32) * 8);
}

/** `path` of an identity disk file below `root`, refusing absolute paths and `..`. */
function identityFilePath(root: string, path: string): string {
  const parts = path.split('/');
  if (
    path === '' ||
    path.startsWith('/') ||
    path.includes('\0') ||
    parts.some((p) => p === '' || p === '.' || p === '..')
  )
    throw coreError(
      'VLAB_ERR_ARGUMENT_INVALID',
      `identity disk file ${JSON.stringify(path)}: not a plain relative path`,
    );
  return join(root, ...parts);
}

/** Options of {@link buildIdentityDisk}. @public */
export interface BuildIdentityDiskOptions {
  /** A private directory for the files on their way (they hold private keys). Default: the OS's temp directory. */
  readonly work?: string | undefined;
  /** Cancels the build (`mkfs.ext4` is ended). */
  readonly signal?: AbortSignal | undefined;
}

/**
 * Builds an identity disk ({@link IDENTITY_DISK}: whole-disk ext4 labelled `VLAB-ID`, made with
 * `mkfs.ext4 -d`, never mounted) holding `files` with their modes, at `image` on this host. The
 * files pass through a private directory that is removed afterwards; the image appears whole (a
 * rename) or not at all, mode `0600` (it holds private keys). Needs `mkfs.ext4` (e2fsprogs).
 * @public
 */
export async function buildIdentityDisk(
  files: readonly IdentityDiskFile[],
  image: string,
  options: BuildIdentityDiskOptions = {},
): Promise<void> {
  const work = options.work ?? tmpdir();
  await mkdir(work, { recursive: true, mode: 0o700 });
  const temp = await mkdtemp(join(work, 'vlab-identity-'));
  try {
    await chmod(temp, 0o700);
    // mkfs -d copies the source directory's mode onto the file system's root: 0755 there.
    const root = join(temp, 'root');
    await mkdir(root, { mode: 0o755 });
    for (const file of files) {
      const target = identityFilePath(root, file.path);
      await mkdir(dirname(target), { recursive: true, mode: 0o755 });
      await writeFile(target, file.data, { mode: file.mode });
      await chmod(target, file.mode); // writeFile's mode is filtered by the umask
    }
    // The image file exists, private, before mkfs writes keys into it (mkfs keeps its mode); it
    // is never left behind.
    const tmpImage = `${image}.tmp`;
    await rm(tmpImage, { force: true });
    await (await open(tmpImage, 'wx', 0o600)).close();
    try {
      await mkfs(
        ['-q', '-F', '-L', IDENTITY_DISK.label, '-d', root, tmpImage, `${identityDiskKiB(files)}k`],
        image,
        options.signal,
      );
      await rename(tmpImage, image);
    } catch (error) {
      await rm(tmpImage, { force: true });
      throw error;
    }
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}

/** The deadline of `mkfs.ext4` for an identity disk (it takes milliseconds). */
const MKFS_TIMEOUT_MS = 60_000;

/** Runs `mkfs.ext4 args`; a typed error naming `image` when it fails or takes too long. */
function mkfs(args: readonly string[], image: string, signal: AbortSignal | undefined) {
  return new Promise<void>((resolve, reject) => {
    execFile('mkfs.ext4', args, { signal, timeout: MKFS_TIMEOUT_MS }, (error, _stdout, stderr) => {
      if (error === null) resolve();
      else if (signal?.aborted) reject(signal.reason);
      else if (error.killed)
        reject(
          coreError(
            'VLAB_ERR_OP_TIMEOUT',
            `building the identity disk ${image} on this host: mkfs.ext4 took over ${MKFS_TIMEOUT_MS / 1000} s`,
            { cause: error, details: { program: 'mkfs.ext4' } },
          ),
        );
      else
        reject(
          coreError(
            'VLAB_ERR_COMMAND_FAILED',
            `building the identity disk ${image} on this host failed: mkfs.ext4: ${String(stderr).trim() || error.message}`,
            { cause: error, details: { program: 'mkfs.ext4' } },
          ),
        );
    });
  });
}
