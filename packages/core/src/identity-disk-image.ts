import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
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
    const tmpImage = `${image}.tmp`;
    await rm(tmpImage, { force: true });
    const args = ['-q', '-F', '-L', IDENTITY_DISK.label, '-d', root, tmpImage];
    await new Promise<void>((resolve, reject) => {
      execFile(
        'mkfs.ext4',
        [...args, `${identityDiskKiB(files)}k`],
        { signal: options.signal, timeout: 60_000 },
        (error, _stdout, stderr) => {
          if (error === null) resolve();
          else
            reject(
              options.signal?.aborted
                ? options.signal.reason
                : coreError(
                    'VLAB_ERR_COMMAND_FAILED',
                    `building the identity disk ${image} on this host failed: mkfs.ext4: ${String(stderr).trim() || error.message}`,
                    { cause: error, details: { program: 'mkfs.ext4' } },
                  ),
            );
        },
      );
    });
    await chmod(tmpImage, 0o600);
    await rename(tmpImage, image);
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}
