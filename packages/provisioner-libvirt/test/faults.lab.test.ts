import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { isVlabError, type OsModule, type Provisioner } from '@vlab/core';
import { ImageStore } from '@vlab/image-store';
import { freePort } from '@vlab/test-peers';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type LibvirtConfigInput,
  type LibvirtHostConfigInput,
  libvirtConfig,
} from '../src/config.js';
import { createLibvirtProvisioner } from '../src/libvirt-provisioner.js';
import { BASE, figures, useLibvirtLab } from './libvirt-lab.js';

// Faults on real libvirt, each ending in a typed error with nothing half-published and the VM in a
// known state: host unreachable, a corrupt stored image, the store full, a corrupt VM disk
// (`qemu-img check`), an abort during the flatten, a guest that never shuts off, a domain of the
// VM's name that vlab did not define, a domain that cannot start (its identity disk removed). One VM is loaded
// once; the faults that need no guest use an OS module whose preCapture does nothing (the VM is
// already off, as a finished preCapture leaves it) — the full cycle runs the real one.

const exec = promisify(execFile);

/** The error an operation rejected with. */
async function failure(work: Promise<unknown>): Promise<unknown> {
  try {
    await work;
  } catch (error) {
    return error;
  }
  throw new Error('the operation succeeded; a failure was expected');
}

describe('provisioner-libvirt faults on real libvirt and QEMU', () => {
  const lab = useLibvirtLab();
  const extra: Provisioner[] = [];
  const mounts: string[] = [];
  afterAll(async () => {
    for (const p of extra) await p.close?.();
    for (const dir of mounts) {
      await exec('umount', [dir]).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    }
  });

  /** The lab's host as a config names it. */
  const localHost = (more: Partial<LibvirtHostConfigInput> = {}): LibvirtHostConfigInput => ({
    address: lab.sshd.host,
    port: lab.sshd.port,
    user: 'root',
    hostKey: lab.sshd.hostPublicKeys[0] as string,
    key: { file: lab.sshd.clientKey.path },
    network: lab.host.network.name,
    domainType: lab.host.domainType,
    dir: lab.hostDir,
    ...more,
  });
  /** Another provisioner on the lab's host, with its own store or timeouts. */
  const provisioner = (more: Partial<LibvirtConfigInput>): Provisioner => {
    const p = createLibvirtProvisioner(
      libvirtConfig({
        store: { path: lab.storeDir },
        hosts: { local: localHost() },
        vm: { memoryMiB: 768, fwCfgAddress: true },
        pollIntervalMs: 200,
        ...more,
      }),
    );
    extra.push(p);
    return p;
  };
  /** os-linux with a preCapture that does nothing: the VM stays as it is. */
  const idleOs: OsModule = {
    ...lab.os,
    preCapture: async () => ({ endState: 'off' }),
  };
  const idleCtx = (n: number, phase: string, signal?: AbortSignal) =>
    lab.ctx(n, phase, { signal, os: idleOs });
  const masters = () => join(lab.hostDir, 'masters', BASE.name);
  const mastersLeft = () => (existsSync(masters()) ? readdirSync(masters()) : []);
  const unpublished = async (revision: number) =>
    !(await lab.provisioner.imageExists(lab.storeCtx(), { name: BASE.name, revision }));

  it('a host nobody answers on: VLAB_ERR_LIBVIRT_HOST_UNREACHABLE naming the host and the computer', async () => {
    const port = await freePort();
    const p = createLibvirtProvisioner(
      libvirtConfig({
        store: { path: lab.storeDir },
        hosts: {
          gone: {
            address: '127.0.0.1',
            port,
            hostKey: lab.sshd.hostPublicKeys[0] as string,
            key: { file: lab.sshd.clientKey.path },
            network: 'none',
          },
        },
      }),
    );
    extra.push(p);
    const error = await failure(p.powerStatus(lab.ctx(1, 'power')));
    expect(isVlabError(error, 'VLAB_ERR_LIBVIRT_HOST_UNREACHABLE')).toBe(true);
    expect(String(error)).toContain(`host gone (127.0.0.1:${port}) of vm1`);
    figures.push(`host unreachable: ${(error as Error).message.split('\n')[0]}`);
  });

  it('a stored image that does not decode to its checksum: VLAB_ERR_IMAGE_CORRUPT, no master, VM not defined', async () => {
    // Revision 9: the base's stored bytes with one byte changed, under the base's checksum.
    const store = ImageStore.local(lab.storeDir);
    const { manifest, stream } = await store.read(BASE);
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    const bytes = Buffer.concat(chunks);
    const middle = Math.floor(bytes.length / 2);
    bytes[middle] = (bytes[middle] as number) ^ 0xff;
    const reservation = await store.reserve({ name: BASE.name, revision: 9 });
    await reservation.write([bytes]);
    await reservation.publish({
      format: manifest.format,
      sizeBytes: manifest.sizeBytes,
      sha256: manifest.sha256,
      osFamily: 'linux',
    });
    const before = mastersLeft();
    const error = await failure(
      lab.provisioner.load(lab.ctx(1, 'load'), { image: BASE.name, revision: 9 }),
    );
    expect(isVlabError(error, 'VLAB_ERR_IMAGE_CORRUPT')).toBe(true);
    expect(mastersLeft()).toEqual(before);
    expect(await lab.provisioner.powerStatus(lab.ctx(1, 'power'))).toBe('off');
    figures.push(`corrupt stored image: ${(error as Error).message.split('\n')[0]}`);
    await lab.provisioner.deleteImage(lab.storeCtx(), { name: BASE.name, revision: 9 });
  });

  it("a domain of the VM's name that vlab did not define: load, release, capture and power refuse it (VLAB_ERR_LIBVIRT_DOMAIN_FOREIGN), the domain left as it was", async () => {
    // Someone else's domain under vm2's name: the same template without vlab's mark, running.
    const domain = 'vlab-lab-vm2';
    const xml = join(lab.hostDir, 'foreign.xml');
    await writeFile(
      xml,
      `<domain type='${lab.host.domainType}'><name>${domain}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os><devices><memballoon model='none'/></devices></domain>`,
    );
    await lab.host.virsh(['define', xml]);
    try {
      await lab.host.virsh(['start', domain]);
      const error = await failure(
        lab.provisioner.load(lab.ctx(2, 'load'), { image: BASE.name, revision: BASE.revision }),
      );
      expect(isVlabError(error, 'VLAB_ERR_LIBVIRT_DOMAIN_FOREIGN')).toBe(true);
      expect(String(error)).toContain(
        `domain ${domain} on host local was not defined by vlab for vm2`,
      );
      expect(await lab.host.domState(domain)).toBe('running');
      const released = await failure(
        lab.provisioner.release?.(lab.ctx(2, 'release')) ?? Promise.resolve(),
      );
      expect(isVlabError(released, 'VLAB_ERR_LIBVIRT_DOMAIN_FOREIGN')).toBe(true);
      expect(await lab.host.domState(domain)).toBe('running');
      // A capture refuses it before preCapture, reserving nothing in the store.
      let preCaptures = 0;
      const captured = await failure(
        lab.provisioner.capture(
          lab.ctx(2, 'capture', {
            os: {
              ...lab.os,
              preCapture: async () => {
                preCaptures += 1;
                return { endState: 'off' };
              },
            },
          }),
          { image: BASE.name, newRevision: 8, mode: 'image' },
        ),
      );
      expect(isVlabError(captured, 'VLAB_ERR_LIBVIRT_DOMAIN_FOREIGN')).toBe(true);
      expect(preCaptures).toBe(0);
      expect(
        await lab.provisioner.imageExists(lab.storeCtx(), { name: BASE.name, revision: 8 }),
      ).toBe(false);
      expect(await lab.host.domState(domain)).toBe('running');
      // The power operations refuse it too: a powerOff would otherwise destroy it.
      for (const power of ['powerOff', 'powerCycle', 'powerOn'] as const) {
        const refused = await failure(
          lab.provisioner[power]?.(lab.ctx(2, 'power')) ?? Promise.resolve(),
        );
        expect(isVlabError(refused, 'VLAB_ERR_LIBVIRT_DOMAIN_FOREIGN'), power).toBe(true);
        expect(await lab.host.domState(domain)).toBe('running');
      }
      figures.push(`foreign domain: ${(error as Error).message.split('\n')[0]}`);
    } finally {
      await lab.host.virsh(['destroy', domain]).catch(() => undefined);
      await lab.host.virsh(['undefine', domain]);
      await rm(xml, { force: true });
    }
  });

  it('loads the VM the other faults capture', async () => {
    await lab.provisioner.load(lab.ctx(1, 'load'), { image: BASE.name, revision: BASE.revision });
    await lab.provisioner.powerOff(lab.ctx(1, 'power'));
  });

  it('a domain that cannot start: VLAB_ERR_LIBVIRT_HOST_FAILED at step boot, the identity disk removed', async () => {
    // The network the config names does not exist on the host: define works, start fails.
    const p = provisioner({
      hosts: { local: localHost({ network: 'vlab-no-such-network' }) },
    });
    const error = await failure(
      p.load(lab.ctx(2, 'load'), { image: BASE.name, revision: BASE.revision }),
    );
    expect(isVlabError(error, 'VLAB_ERR_LIBVIRT_HOST_FAILED')).toBe(true);
    expect(String(error)).toContain('step boot');
    expect(readdirSync(join(lab.hostDir, 'vms', 'vlab-lab-vm2')).sort()).toEqual([
      'disk.qcow2',
      'domain.xml',
    ]);
    expect(await lab.provisioner.powerStatus(lab.ctx(2, 'power'))).toBe('off');
    await lab.provisioner.release?.(lab.ctx(2, 'release'));
    figures.push(`domain cannot start: ${(error as Error).message.split('\n')[0]}`);
  });

  it('the store full: VLAB_ERR_STORE_FULL, nothing published, no flattened file, VM off', async () => {
    const small = await mkdtemp(join(tmpdir(), 'vlab-small-store-'));
    await exec('mount', ['-t', 'tmpfs', '-o', 'size=32m', 'tmpfs', small]);
    mounts.push(small);
    const p = provisioner({ store: { path: join(small, 'store') } });
    const error = await failure(
      p.capture(idleCtx(1, 'capture'), { image: BASE.name, newRevision: 20, mode: 'image' }),
    );
    expect(isVlabError(error, 'VLAB_ERR_STORE_FULL')).toBe(true);
    expect(await p.listImages(lab.storeCtx())).toEqual([]);
    expect(mastersLeft().filter((f) => f.startsWith('.capture-') || f.startsWith('20-'))).toEqual(
      [],
    );
    expect(await lab.provisioner.powerStatus(lab.ctx(1, 'power'))).toBe('off');
    figures.push(`store full: ${(error as Error).message.split('\n')[0]}`);
  });

  it('a corrupt VM disk fails qemu-img check: VLAB_ERR_IMAGE_CORRUPT, nothing published', async () => {
    const overlay = join(lab.hostDir, 'vms', 'vlab-lab-vm1', 'disk.qcow2');
    const saved = `${overlay}.saved`;
    await exec('cp', ['--sparse=always', overlay, saved]);
    try {
      await zeroFirstRefcountBlock(overlay);
      const error = await failure(
        lab.provisioner.capture(idleCtx(1, 'capture'), {
          image: BASE.name,
          newRevision: 21,
          mode: 'image',
        }),
      );
      expect(isVlabError(error, 'VLAB_ERR_IMAGE_CORRUPT')).toBe(true);
      expect(String(error)).toContain('qemu-img check');
      expect(await unpublished(21)).toBe(true);
      expect(mastersLeft().filter((f) => f.startsWith('.capture-') || f.startsWith('21-'))).toEqual(
        [],
      );
      figures.push(`corrupt VM disk: ${(error as Error).message.split('\n')[0]}`);
    } finally {
      await exec('mv', ['-f', saved, overlay]);
    }
  });

  it('an abort while qemu-img flattens: VLAB_ERR_OP_CANCELLED, no qemu-img left, nothing published', async () => {
    const stop = new AbortController();
    // The known point: the flatten's output file exists in the capture's scratch directory.
    const flattening = async () => {
      for (;;) {
        const scratch = mastersLeft().filter((f) => f.startsWith('.vlab.'));
        if (scratch.some((d) => existsSync(join(masters(), d, 'flat.qcow2')))) return;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    const capturing = failure(
      lab.provisioner.capture(idleCtx(1, 'capture', stop.signal), {
        image: BASE.name,
        newRevision: 22,
        mode: 'image',
      }),
    );
    await flattening();
    stop.abort('operator');
    const error = await capturing;
    expect(isVlabError(error, 'VLAB_ERR_OP_CANCELLED')).toBe(true);
    expect(
      (await exec('pgrep', ['-f', 'qemu-img convert']).catch(() => ({ stdout: '' }))).stdout,
    ).toBe('');
    expect(mastersLeft().filter((f) => f.startsWith('.vlab.') || f.includes('capture-'))).toEqual(
      [],
    );
    expect(await unpublished(22)).toBe(true);
    expect(await lab.provisioner.powerStatus(lab.ctx(1, 'power'))).toBe('off');
  });

  it('a guest that never shuts off: destroyed, VLAB_ERR_LIBVIRT_SHUTDOWN_FORCED, nothing published', async () => {
    await lab.provisioner.powerOn(lab.ctx(1, 'power'));
    const p = provisioner({ timeouts: { powerMs: 3000 } });
    const t0 = performance.now();
    const error = await failure(
      p.capture(idleCtx(1, 'capture'), { image: BASE.name, newRevision: 23, mode: 'image' }),
    );
    expect(isVlabError(error, 'VLAB_ERR_LIBVIRT_SHUTDOWN_FORCED')).toBe(true);
    expect(await lab.provisioner.powerStatus(lab.ctx(1, 'power'))).toBe('off');
    expect(await unpublished(23)).toBe(true);
    figures.push(
      `guest never shut off: ${((performance.now() - t0) / 1000).toFixed(1)} s; ${(error as Error).message.split('\n')[0]}`,
    );
  });
});

/**
 * Zeroes the qcow2's first refcount block: every cluster then has refcount 0 but is referenced,
 * which `qemu-img check` reports as corruption (the data itself still reads).
 */
async function zeroFirstRefcountBlock(path: string): Promise<void> {
  const file = await open(path, 'r+');
  try {
    const header = Buffer.alloc(104);
    await file.read(header, 0, 104, 0);
    const clusterBits = header.readUInt32BE(20);
    const refcountTable = Number(header.readBigUInt64BE(48));
    const entry = Buffer.alloc(8);
    await file.read(entry, 0, 8, refcountTable);
    const block = Number(entry.readBigUInt64BE(0));
    await file.write(Buffer.alloc(2 ** clusterBits), 0, 2 ** clusterBits, block);
  } finally {
    await file.close();
  }
}
