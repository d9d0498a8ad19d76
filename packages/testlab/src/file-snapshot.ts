import { createHash } from 'node:crypto';
import { type BigIntStats, createReadStream } from 'node:fs';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { ConformanceHarness } from '@vlab/core/testing';
import { parseGroup, parsePasswd } from './guest-accounts.js';
import { filesInRoot } from './guest-root.js';

/** One file as the kit compares it (`HarnessFile` of `@vlab/core/testing`). */
export type SnapshotFile = Awaited<
  ReturnType<NonNullable<ConformanceHarness['snapshotFiles']>>
>[number];

/**
 * Directories whose contents a snapshot leaves out (the directories themselves are listed): the
 * kernel's and the service manager's runtime file systems, temporary files, the journal and
 * caches. On a lab computer's disk these are empty or noise: the guest mounts its own `/proc`,
 * `/sys`, `/dev`, `/run` and `/tmp`.
 */
export const SNAPSHOT_SKIPPED: readonly string[] = [
  '/proc',
  '/sys',
  '/dev',
  '/run',
  '/tmp',
  '/var/log/journal',
  '/var/cache',
];

/**
 * Paths left out with everything below them: the private temporary directories systemd makes for
 * services with `PrivateTmp=` (`/var/tmp/systemd-private-<boot>-<unit>-<random>`), new names at
 * every boot (those in `/tmp` are already left out).
 */
export const SNAPSHOT_SKIPPED_PREFIXES: readonly string[] = ['/var/tmp/systemd-private-'];

/** The hex SHA-256 of nothing: what a directory, device node, FIFO or socket hashes to. */
const EMPTY_SHA256 = createHash('sha256').digest('hex');

/** Files at least this big are hashed as a stream rather than read whole. */
const STREAM_BYTES = 8 * 1024 * 1024;

/** How many directories are read, and files hashed, at once. */
const CONCURRENCY = 8;

/**
 * A file whose modification or change time is this close to the snapshot's start (or later) is
 * hashed again next time: the kernel stamps times from a coarse clock (a tick of 1–10 ms), so a
 * write in the same tick as the one before could leave size and times as they were. Ten ticks and
 * more after a file's last write, any new write stamps a later time.
 */
const RACY_NS = 100_000_000n;

interface Entry {
  readonly path: string;
  readonly info: BigIntStats;
}

interface Cached {
  readonly key: string;
  readonly sha256: string;
}

/** What changes when a file's content may have: not its device, so a copy of the disk keeps it. */
function cacheKey(info: BigIntStats): string {
  return `${info.ino}:${info.size}:${info.mtimeNs}:${info.ctimeNs}:${info.mode}`;
}

async function sha256OfFile(path: string, size: bigint): Promise<string> {
  const hash = createHash('sha256');
  if (size < BigInt(STREAM_BYTES)) return hash.update(await readFile(path)).digest('hex');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Runs `work` on every item, `limit` at a time. */
async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next] as T;
      next += 1;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * Snapshots of a guest's files below a root directory on the host (the running guest's root
 * mount, or a mounted copy of its disk): every file, directory, symlink and special file, except
 * the contents of {@link SNAPSHOT_SKIPPED} and what {@link SNAPSHOT_SKIPPED_PREFIXES} names, as
 * path, SHA-256 (of a regular file's content, of a symlink's target path, of nothing for a
 * directory or special file), permission bits, and owner and group named through the guest's own
 * `/etc/passwd` and `/etc/group` (the numeric id when it has no name).
 *
 * Content hashes are cached per path by inode, size, modification and change time (and so reused
 * across the mounted root and a copy of the disk, which keep them), so a snapshot reads only the
 * files that changed since the last one.
 */
export class FileSnapshotter {
  #cache = new Map<string, Cached>();

  /** The files below `root`, sorted by path. */
  async snapshot(root: string): Promise<SnapshotFile[]> {
    const started = BigInt(Date.now()) * 1_000_000n;
    const entries = await this.#walk(root);
    const guest = filesInRoot(root);
    const [passwd, group] = await Promise.all([
      guest.read('/etc/passwd'),
      guest.read('/etc/group'),
    ]);
    const users = new Map<number, string>();
    for (const e of parsePasswd(passwd?.toString('utf8')))
      if (!users.has(e.uid)) users.set(e.uid, e.login);
    const groups = new Map<number, string>();
    for (const g of parseGroup(group?.toString('utf8')))
      if (!groups.has(g.gid)) groups.set(g.gid, g.name);

    const cache = new Map<string, Cached>();
    const hashes = new Map<string, string>();
    await eachLimited(entries, CONCURRENCY, async ({ path, info }) => {
      if (!info.isFile() && !info.isSymbolicLink()) {
        hashes.set(path, EMPTY_SHA256);
        return;
      }
      const key = cacheKey(info);
      const known = this.#cache.get(path);
      let sha256: string;
      if (known?.key === key) {
        sha256 = known.sha256;
      } else {
        const full = join(root, path);
        try {
          sha256 = info.isSymbolicLink()
            ? createHash('sha256')
                .update(await readlink(full))
                .digest('hex')
            : await sha256OfFile(full, info.size);
        } catch (error) {
          // Removed since the walk (a running guest): the next snapshot will not list it.
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
          throw error;
        }
      }
      hashes.set(path, sha256);
      if (info.ctimeNs < started - RACY_NS && info.mtimeNs < started - RACY_NS)
        cache.set(path, { key, sha256 });
    });
    this.#cache = cache;

    const files: SnapshotFile[] = [];
    for (const { path, info } of entries) {
      const sha256 = hashes.get(path);
      if (sha256 === undefined) continue;
      files.push({
        path,
        sha256,
        mode: Number(info.mode & 0o7777n),
        owner: users.get(Number(info.uid)) ?? String(info.uid),
        group: groups.get(Number(info.gid)) ?? String(info.gid),
      });
    }
    return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /** Every entry below `root` with its `lstat`, the skipped directories' contents left out. */
  async #walk(root: string): Promise<Entry[]> {
    const entries: Entry[] = [];
    let level = ['/'];
    while (level.length > 0) {
      const next: string[] = [];
      await eachLimited(level, CONCURRENCY, async (dir) => {
        let names: string[];
        try {
          names = await readdir(join(root, dir));
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code === 'ENOENT' || code === 'ENOTDIR') return; // removed since (a running guest)
          throw error;
        }
        const infos = await Promise.all(
          names.map(async (name) => {
            const path = dir === '/' ? `/${name}` : `${dir}/${name}`;
            try {
              return { path, info: await lstat(join(root, path), { bigint: true }) };
            } catch (error) {
              if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
              throw error;
            }
          }),
        );
        for (const entry of infos) {
          if (entry === undefined) continue;
          if (SNAPSHOT_SKIPPED_PREFIXES.some((prefix) => entry.path.startsWith(prefix))) continue;
          entries.push(entry);
          if (entry.info.isDirectory() && !SNAPSHOT_SKIPPED.includes(entry.path))
            next.push(entry.path);
        }
      });
      level = next;
    }
    return entries;
  }
}
