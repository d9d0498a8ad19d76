import { once } from 'node:events';
import {
  abortError,
  coreError,
  type ImageRevisionRef,
  type OperationContext,
  TransferWatch,
} from '@vlab/core';
import type { ImageManifest, ImageStore } from '@vlab/image-store';
import type { LibvirtConfig } from './config.js';
import { libvirtError } from './errors.js';
import { CORRUPT_EXIT, FILE_EXISTS, QEMU_PROGRESS, RECEIVE_MASTER } from './host-scripts.js';
import type { Hypervisor } from './hypervisor.js';

/** The masters directory of `image` on a host. */
export function mastersDir(hostDir: string, image: string): string {
  return `${hostDir}/masters/${image}`;
}

/**
 * A master's file name: its revision and the first 16 hex digits of its raw disk's SHA-256 — the
 * name says which bytes it holds, so a revision number used again never meets an old master.
 */
export function masterName(revision: number, sha256: string): string {
  return `${revision}-${sha256.slice(0, 16)}.qcow2`;
}

/** What {@link ensureMaster} found or did. */
export interface Master {
  /** The master's path on the host. */
  readonly path: string;
  /** Whether it was there already (the host's cache), or was copied from the store now. */
  readonly cached: boolean;
}

/**
 * The master of a stored revision on the VM's host: the cached one when the host has it (the
 * normal path), else copied there from the store (the first time): the stored bytes stream over
 * SSH into the host's decoder, are hashed there and must give the manifest's SHA-256 and size
 * (else `VLAB_ERR_IMAGE_CORRUPT`), become a qcow2 and appear under the master's name with one
 * `mv`. Progress: bytes of the stored file, at each quarter.
 */
export async function ensureMaster(
  ctx: OperationContext,
  hypervisor: Hypervisor,
  store: ImageStore,
  config: LibvirtConfig,
  ref: ImageRevisionRef,
): Promise<Master> {
  const manifest = await store.get(ref, { signal: ctx.signal });
  if (manifest === undefined)
    throw coreError(
      'VLAB_ERR_IMAGE_NOT_FOUND',
      `${ref.name} revision ${ref.revision} is not in the store ${store.location}`,
      { computer: hypervisor.computer, details: { image: ref.name, revision: ref.revision } },
    );
  const dir = mastersDir(hypervisor.host.dir, ref.name);
  const name = masterName(ref.revision, manifest.sha256);
  const path = `${dir}/${name}`;
  if ((await hypervisor.run(ctx, 'looking for the master', FILE_EXISTS, [path])).trim() === 'yes')
    return { path, cached: true };
  await receiveMaster(ctx, hypervisor, store, config, manifest, dir, name);
  return { path, cached: false };
}

async function receiveMaster(
  ctx: OperationContext,
  hypervisor: Hypervisor,
  store: ImageStore,
  config: LibvirtConfig,
  manifest: ImageManifest,
  dir: string,
  name: string,
): Promise<void> {
  const computer = hypervisor.computer;
  const what = `copying ${manifest.name} revision ${manifest.revision} to host ${hypervisor.hostName}`;
  const watch = new TransferWatch(
    ctx,
    computer,
    what,
    config.timeouts.transferIdleMs,
    manifest.storedBytes,
  );
  const { stream } = await store.read(manifest, { signal: watch.signal });
  try {
    const proc = await hypervisor.spawn(
      [
        'sh',
        '-c',
        RECEIVE_MASTER,
        'vlab-libvirt',
        dir,
        name,
        manifest.format,
        manifest.sha256,
        String(manifest.sizeBytes),
      ],
      { signal: watch.signal, timeoutMs: config.timeouts.transferMs },
    );
    const stderr: Buffer[] = [];
    proc.stderr.on('data', (chunk: Buffer) => {
      // qemu-img's progress while the host converts (after the last byte came) keeps it alive.
      watch.moved(0);
      stderr.push(chunk);
    });
    proc.stdout.resume();
    // The host's side may end before it read everything (a failed decoder): then stop sending
    // instead of waiting for a drain that never comes.
    proc.stdin.on('error', () => undefined);
    const ended = proc.exit.then(() => 'ended' as const);
    const sent = (async () => {
      for await (const chunk of stream) {
        watch.moved((chunk as Buffer).length);
        if (!proc.stdin.write(chunk)) {
          const drained = once(proc.stdin, 'drain').then(() => 'drained' as const);
          if ((await Promise.race([drained, ended])) === 'ended') return;
        }
      }
      proc.stdin.end();
    })();
    // The store's stream failing ends the host's side too, and its error is the one that counts.
    const sending = sent.then(
      () => undefined,
      (error: unknown) => {
        void proc.kill();
        return error;
      },
    );
    const exit = await proc.exit;
    const failed = await sending;
    if (failed !== undefined) throw failed;
    const message = Buffer.concat(stderr)
      .toString('utf8')
      .replace(QEMU_PROGRESS, '')
      .trim()
      .slice(0, 500);
    if (exit.code === CORRUPT_EXIT)
      throw coreError('VLAB_ERR_IMAGE_CORRUPT', `${what}: ${message}`, {
        computer,
        details: { image: manifest.name, revision: manifest.revision, host: hypervisor.hostName },
      });
    if (exit.code !== 0)
      throw libvirtError(
        'VLAB_ERR_LIBVIRT_HOST_FAILED',
        `${what} failed on the host (exit ${exit.code}): ${message || 'no message'}`,
        { computer, details: { host: hypervisor.hostName, exitCode: exit.code } },
      );
    watch.finish();
  } catch (error) {
    if (ctx.signal.aborted) throw abortError(ctx.signal, computer, ctx.phase);
    throw watch.idleReason ?? error;
  } finally {
    watch[Symbol.dispose]();
    stream.destroy();
  }
}
