import { randomUUID } from 'node:crypto';
import type { Stats } from 'node:fs';
import { existsSync, readFileSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, readlink, rm, rmdir, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { run, runChecked } from './exec.js';

/**
 * Reading a lab computer's files from the host, never through the guest: from the host's side of
 * the running guest's root mount, or from the disk file while nothing mounts it.
 */

/** Read access to a guest's file system by guest paths (`/etc/passwd`). */
export interface GuestFiles {
  /** A file's content, symlinks followed inside the guest; `undefined` when absent. */
  read(path: string): Promise<Buffer | undefined>;
  /** The names in a directory (no `.` or `..`); `undefined` when it is absent or no directory. */
  list(path: string): Promise<string[] | undefined>;
}

/** Whether `path` is a mount point in this process's mount namespace (`/proc/self/mountinfo`). */
export function isMountPoint(path: string): boolean {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const point = line.split(' ')[4];
    if (point === undefined) continue;
    const decoded = point.replace(/\\(\d{3})/g, (_, oct: string) =>
      String.fromCharCode(parseInt(oct, 8)),
    );
    if (decoded === path) return true;
  }
  return false;
}

/**
 * `path` inside the guest root `root`, following symlinks as the guest would (absolute targets
 * are relative to `root`); `undefined` when a component does not exist.
 */
export async function resolveInRoot(
  root: string,
  path: string,
  depth = 0,
): Promise<string | undefined> {
  if (depth > 40) throw new Error(`too many symlinks resolving ${path} in ${root}`);
  let current = '/';
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  for (let index = 0; index < parts.length; index += 1) {
    const part = parts[index] ?? '';
    const next = part === '..' ? posix.dirname(current) : posix.join(current, part);
    let info: Stats;
    try {
      info = await lstat(join(root, next));
    } catch {
      return undefined;
    }
    if (info.isSymbolicLink()) {
      const target = await readlink(join(root, next));
      const rest = parts.slice(index + 1).join('/');
      const base = target.startsWith('/') ? target : posix.join(current, target);
      return resolveInRoot(root, posix.join(base, rest), depth + 1);
    }
    current = next;
  }
  return join(root, current);
}

function missing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** A guest's files below `root`, a directory on the host (the root mount, a mounted copy). */
export function filesInRoot(root: string): GuestFiles {
  return {
    async read(path) {
      const resolved = await resolveInRoot(root, path);
      if (resolved === undefined) return undefined;
      try {
        return await readFile(resolved);
      } catch (error) {
        if (missing(error) || (error as NodeJS.ErrnoException).code === 'EISDIR') return undefined;
        throw error;
      }
    },
    async list(path) {
      const resolved = await resolveInRoot(root, path);
      if (resolved === undefined) return undefined;
      try {
        return (await readdir(resolved)).sort();
      } catch (error) {
        if (missing(error)) return undefined;
        throw error;
      }
    },
  };
}

/** `path` as one argument of a debugfs request (`-R`), or `undefined` when it cannot be one. */
function debugfsPath(path: string): string | undefined {
  if (!path.startsWith('/') || /["\n\r\\]/.test(path)) return undefined;
  return /\s/.test(path) ? `"${path}"` : path;
}

/**
 * A guest's files in the ext4 disk file `disk`, read with `debugfs` (read-only, no mount), using
 * `scratch` (a private directory) for dumped files. For a disk nothing mounts: a mounted file
 * system's latest writes may not be in the file yet.
 */
export function filesOnDisk(disk: string, scratch: string): GuestFiles {
  return {
    async read(path) {
      const arg = debugfsPath(path);
      if (arg === undefined) return undefined;
      await mkdir(scratch, { recursive: true, mode: 0o700 });
      const dump = join(scratch, `harness-read-${randomUUID()}`);
      try {
        const out = await run('debugfs', ['-R', `dump -p ${arg} ${dump}`, disk]);
        if (!existsSync(dump) || /not found|File not found/i.test(out.stderr)) return undefined;
        return await readFile(dump);
      } finally {
        await rm(dump, { force: true });
      }
    },
    async list(path) {
      const arg = debugfsPath(path);
      if (arg === undefined) return undefined;
      const out = await run('debugfs', ['-R', `ls -p ${arg}`, disk]);
      // One entry a line: /inode/mode/uid/gid/name/size/ (size empty for a directory).
      const names: string[] = [];
      for (const line of out.stdout.split('\n')) {
        const match = /^\/\d+\/\d+\/\d+\/\d+\/(.*)\/\d*\/$/.exec(line);
        const name = match?.[1];
        if (name !== undefined && name !== '.' && name !== '..') names.push(name);
      }
      if (names.length === 0 && /not found|not a directory/i.test(out.stderr)) return undefined;
      return names.sort();
    },
  };
}

/**
 * The stat fields of a disk file that change whenever it is written; `undefined` when it was
 * written in the last 100 ms (the kernel stamps times from a coarse clock, a tick of 1–10 ms: a
 * write in the same tick as the last one could leave them as they are; ten ticks later, it cannot).
 */
export async function diskFingerprint(disk: string): Promise<string | undefined> {
  const info = await stat(disk, { bigint: true });
  const recent = BigInt(Date.now() - 100) * 1_000_000n;
  if (info.mtimeNs >= recent || info.ctimeNs >= recent) return undefined;
  return `${info.ino}:${info.size}:${info.mtimeNs}:${info.ctimeNs}`;
}

async function fingerprintNow(disk: string): Promise<string> {
  const info = await stat(disk, { bigint: true });
  return `${info.ino}:${info.size}:${info.mtimeNs}:${info.ctimeNs}`;
}

async function unmount(path: string): Promise<void> {
  if (isMountPoint(path)) await runChecked('umount', [path]);
}

/**
 * Runs `fn` on a read-only mount of a copy of the ext4 disk file `disk`: a tmpfs mounted at a new
 * directory under `work` (so the copy costs no disk writes, and a crash leaves only mounts under
 * the lab's directory, which `lab down` removes), the disk copied into it with
 * `cp --sparse=always`, and the copy mounted `loop,ro,noload`. The copy keeps every inode's number,
 * size and times, and has a loop device of its own, so the computer's runner can still attach and
 * mount the disk itself meanwhile (util-linux refuses a second loop device over one file).
 * Resolves with `undefined`, having done nothing useful, when the disk file changed during the
 * copy or `stillIdle` says it is no longer idle (the caller reads it again). Unmounts and removes
 * what it made.
 */
export async function withDiskCopy<T>(
  disk: string,
  work: string,
  stillIdle: () => boolean,
  fn: (root: string) => Promise<T>,
): Promise<T | undefined> {
  await mkdir(work, { recursive: true, mode: 0o700 });
  const scratch = join(work, `snapshot-${randomUUID()}`);
  const copy = join(scratch, 'disk.img');
  const root = join(scratch, 'root');
  const { size } = await stat(disk);
  await mkdir(scratch, { mode: 0o700 });
  try {
    await runChecked('mount', [
      '-t',
      'tmpfs',
      '-o',
      `mode=0700,size=${Math.ceil(size / 2 ** 20) + 16}m`,
      'vlab-harness-snapshot',
      scratch,
    ]);
    try {
      const before = await fingerprintNow(disk);
      await runChecked('cp', ['--sparse=always', disk, copy], { timeoutMs: 600_000 });
      if ((await fingerprintNow(disk)) !== before || !stillIdle()) return undefined;
      await mkdir(root, { mode: 0o700 });
      await runChecked('mount', ['-t', 'ext4', '-o', 'loop,ro,noload', copy, root]);
      try {
        return await fn(root);
      } finally {
        await unmount(root);
      }
    } finally {
      await unmount(scratch);
    }
  } finally {
    // rmdir, never a recursive rm: a mount point that could not be unmounted stays as it is.
    if (!isMountPoint(scratch)) await rmdir(scratch).catch(() => undefined);
  }
}
