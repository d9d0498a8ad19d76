import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { capturedStamp, IMAGE_STAMP_PATHS, type ImageFileSource, serializeStamp } from '@vlab/core';
import { runChecked } from './exec.js';
import { isMountPoint } from './guest-root.js';
import { ensureBaseImage } from './image.js';
import { type Lab, withMountedImage } from './lab.js';
import { withMachineLock } from './lock.js';

/** An image revision as a harness names it. */
export interface LabImage {
  readonly name: string;
  readonly revision: number;
  readonly osFamily: string;
}

/** The host name of the generic image: no computer's name, so nothing of one machine is in it. */
const GENERIC_HOSTNAME = 'localhost';

/**
 * The raw disk image of `image` for lab `lab`, as an `importImage` source: the lab's base image
 * (`ensureBaseImage`) made lab-generic — root authorizes the lab's management key, the image stamp
 * says `captured` — and generalized: no SSH host keys, an empty machine id, host name `localhost`.
 *
 * Built once per lab, in `<lab>/image-source/`, under a lock in that directory (several harnesses
 * of one lab share it): copied sparse from the base image under a temporary name, changed through
 * a loop mount, hashed, made read-only and renamed into place; then its SHA-256 is written beside
 * it (`<image>.sha256`, `sha256sum` format) the same way. The image counts as built only once
 * that file exists, so a crashed build is redone, and a returned image is never written again.
 * Each call returns a new object.
 */
export async function labImageSource(lab: Lab, image: LabImage): Promise<ImageFileSource> {
  const path = join(lab.dir, 'image-source', `${image.name}-r${image.revision}.img`);
  const sha256 =
    (await builtSha256(path)) ??
    (await withMachineLock(
      join(dirname(path), 'build.lock'),
      `building the image source of lab ${lab.id}`,
      600_000,
      async () => (await builtSha256(path)) ?? buildImageSource(lab, image, path),
    ));
  return { path, sha256, osFamily: image.osFamily };
}

/** The cached SHA-256 of the image at `path`; `undefined` until its build finished. */
async function builtSha256(path: string): Promise<string | undefined> {
  try {
    const sum = (await readFile(`${path}.sha256`, 'utf8')).split(/\s+/)[0];
    return sum !== undefined && /^[0-9a-f]{64}$/.test(sum) && existsSync(path) ? sum : undefined;
  } catch {
    return undefined;
  }
}

/** Builds the image at `path` and its `.sha256` file (the caller holds the build lock). */
async function buildImageSource(lab: Lab, image: LabImage, path: string): Promise<string> {
  if (lab.managementKey.publicKey === '')
    throw new Error(`lab ${lab.id} has no management key (is it being removed?)`);
  const temp = `${path}.tmp-${randomUUID()}`;
  const mnt = `${temp}.mnt`;
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  try {
    const base = await ensureBaseImage({ suite: lab.record.suite });
    await runChecked('cp', ['--sparse=always', '--reflink=auto', base.path, temp], {
      timeoutMs: 600_000,
    });
    await withMountedImage(temp, mnt, () => makeGeneric(mnt, lab.managementKey.publicKey, image));
    const sum = (await runChecked('sha256sum', [temp], { timeoutMs: 600_000 })).stdout;
    const sha256 = sum.split(/\s+/)[0] ?? '';
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`sha256sum ${temp} printed ${sum}`);
    await chmod(temp, 0o444); // callers read it; nothing may write it once it is returned
    await rename(temp, path);
    await writeFile(`${temp}.sha256`, `${sha256}  ${basename(path)}\n`, { mode: 0o444 });
    await rename(`${temp}.sha256`, `${path}.sha256`);
    return sha256;
  } finally {
    await rm(temp, { force: true });
    await rm(`${temp}.sha256`, { force: true });
    // rmdir, never a recursive rm: a mount point that could not be unmounted stays as it is.
    if (existsSync(mnt) && !isMountPoint(mnt)) await rmdir(mnt);
  }
}

/** What makes the mounted base image lab-generic and generalized (see {@link labImageSource}). */
async function makeGeneric(root: string, managementKey: string, image: LabImage): Promise<void> {
  const ssh = join(root, 'etc/ssh');
  for (const entry of await readdir(ssh)) {
    if (entry.startsWith('ssh_host_')) await rm(join(ssh, entry));
  }
  await writeFile(join(root, 'etc/machine-id'), '');
  await rm(join(root, 'var/lib/dbus/machine-id'), { force: true });
  await writeFile(join(root, 'etc/hostname'), `${GENERIC_HOSTNAME}\n`);
  await writeFile(
    join(root, 'etc/hosts'),
    '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n',
  );
  await mkdir(join(root, 'root/.ssh'), { recursive: true, mode: 0o700 });
  await chmod(join(root, 'root/.ssh'), 0o700);
  await writeFile(join(root, 'root/.ssh/authorized_keys'), `${managementKey}\n`);
  await chmod(join(root, 'root/.ssh/authorized_keys'), 0o600);
  const stamp = join(root, IMAGE_STAMP_PATHS.posix.slice(1));
  await mkdir(dirname(stamp), { recursive: true });
  await writeFile(
    stamp,
    serializeStamp(capturedStamp({ image: image.name, revision: image.revision })),
  );
}
