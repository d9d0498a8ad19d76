import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Secret } from '@vlab/core';
import { MemoryHostKeyStore, SshPool } from '@vlab/ssh';
import { liveProcessesOf, type Sshd, startSshd } from '@vlab/test-peers';
import { ImageStore } from '../src/index.js';

/** One backend under test: stores on fresh roots that the test can also read with node:fs. */
export interface Harness {
  readonly kind: 'local' | 'ssh';
  /** A store on a fresh, empty root; `root` is that directory on this machine. */
  fresh(): Promise<{ readonly store: ImageStore; readonly root: string }>;
  /** A store on `root`, a path of this machine. */
  storeAt(root: string): ImageStore;
  /** A store on a fresh tmpfs of `sizeMiB`; `unmount` must be called (in a finally). */
  small(sizeMiB: number): Promise<{
    readonly store: ImageStore;
    readonly root: string;
    unmount(): Promise<void>;
  }>;
  /** Live processes (`pid args`) working on this harness's stores: none once calls have ended. */
  leftovers(): string[];
  close(): Promise<void>;
}

let counter = 0;

/** Mounts a tmpfs of `sizeMiB` on a new directory under `parent`; throws when it cannot. */
export async function mountTmpfs(
  parent: string,
  sizeMiB: number,
  owner?: { readonly uid: number; readonly gid: number },
): Promise<{ readonly dir: string; unmount(): Promise<void> }> {
  const dir = join(parent, `tmpfs-${process.pid}-${++counter}`);
  await mkdir(dir);
  const options = [`size=${sizeMiB}m`, 'mode=0755'];
  if (owner !== undefined) options.push(`uid=${owner.uid}`, `gid=${owner.gid}`);
  // No try: a test that needs a small file system fails loudly when it cannot mount one.
  execFileSync('mount', ['-t', 'tmpfs', '-o', options.join(','), 'tmpfs', dir], { stdio: 'pipe' });
  return {
    dir,
    async unmount() {
      execFileSync('umount', [dir], { stdio: 'pipe' });
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function localHarness(): Promise<Harness> {
  const base = await mkdtemp(join(tmpdir(), 'vlab-image-store-'));
  return {
    kind: 'local',
    storeAt: (root) => ImageStore.local(root),
    async fresh() {
      const root = join(base, `store-${++counter}`);
      return { store: ImageStore.local(root), root };
    },
    async small(sizeMiB) {
      const mount = await mountTmpfs(base, sizeMiB);
      const root = join(mount.dir, 'images');
      return { store: ImageStore.local(root), root, unmount: mount.unmount };
    },
    leftovers: () => [],
    async close() {
      await rm(base, { recursive: true, force: true });
    },
  };
}

export async function sshHarness(): Promise<Harness> {
  const sshd: Sshd = await startSshd();
  const pool = new SshPool({
    hostKeys: new MemoryHostKeyStore({ [`[127.0.0.1]:${sshd.port}`]: sshd.hostPublicKeys }),
  });
  const client = pool.client({
    host: sshd.host,
    port: sshd.port,
    user: sshd.user,
    auth: { kind: 'key', privateKey: new Secret(sshd.clientKey.privateKey, 'test client key') },
    computer: 'store-host',
  });
  return {
    kind: 'ssh',
    storeAt: (root) => ImageStore.ssh(client, root),
    async fresh() {
      // The store's root is created by the store itself, as the login user.
      const root = join(sshd.scratchDir, `store-${process.pid}-${++counter}`);
      return { store: ImageStore.ssh(client, root), root };
    },
    async small(sizeMiB) {
      const mount = await mountTmpfs(sshd.scratchDir, sizeMiB, sshd.account);
      const root = join(mount.dir, 'images');
      return { store: ImageStore.ssh(client, root), root, unmount: mount.unmount };
    },
    leftovers: () => liveProcessesOf(sshd.user).filter((line) => line.includes(sshd.scratchDir)),
    async close() {
      await pool.close();
      await sshd.stop();
    },
  };
}

/** Every entry under `dir`, recursively, as relative paths (hidden ones included), sorted. */
export async function tree(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { recursive: true });
    return entries.map(String).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** `total` random bytes. */
export function disk(total: number): Buffer {
  return randomBytes(total);
}

/** `data` as chunks of `chunk` bytes. */
export async function* chunks(data: Buffer, chunk = 64 * 1024): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < data.length; offset += chunk)
    yield data.subarray(offset, offset + chunk);
}

/** A stream's bytes. */
export async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(Buffer.from(part));
  return Buffer.concat(parts);
}

/** A promise and its resolver. */
export function gate(): { readonly promise: Promise<void>; open(): void } {
  let open = (): void => undefined;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}
