import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BASE, figures, useLibvirtLab } from './libvirt-lab.js';

// The full cycle on real QEMU guests under libvirt, the host reached over SSH: load the base
// image (its master copied to the host the first time), write a file, capture it (off), load the
// capture as two VMs at once (the master cached by the capture) and find the file, checkpoint one,
// power and release. Root and the Debian packages of scripts/lib/machine-setup.sh; fails, never skips.

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const timed = async <T>(what: string, work: () => Promise<T>): Promise<T> => {
  const t0 = performance.now();
  const result = await work();
  figures.push(`${what}: ${seconds(performance.now() - t0)}`);
  return result;
};

describe('provisioner-libvirt on real libvirt and QEMU', () => {
  const lab = useLibvirtLab();
  const MARK = '/root/vlab-full-cycle-mark';

  it('loads the base image (first time: the master is copied to the host) and postLoad runs', async () => {
    const result = await timed('load of the base image, master copied', () =>
      lab.provisioner.load(lab.ctx(1, 'load'), { image: BASE.name, revision: BASE.revision }),
    );
    expect(result).toMatchObject({ image: BASE.name, revision: BASE.revision });
    expect(result.stamp.state).toBe('ready');
    expect(await lab.provisioner.powerStatus(lab.ctx(1, 'power'))).toBe('on');
    const status = await lab.provisioner.nodeStatus(lab.ctx(1, 'status'));
    expect(status.verdict).toBe('ready');
    // The identity disk did its work and is gone from the host.
    expect(existsSync(`${lab.hostDir}/vms/vlab-lab-vm1/identity.img`)).toBe(false);
    expect((await lab.guest(1, ['hostname'])).trim()).toBe('vm1');
  });

  it('captures the VM (preCapture to off, flatten, check, publish) and loads the capture as another VM', async () => {
    await lab.guest(1, ['sh', '-c', `echo captured-bytes > ${MARK}`]);
    const captured = await timed('capture (image)', () =>
      lab.provisioner.capture(lab.ctx(1, 'capture'), {
        image: BASE.name,
        newRevision: 2,
        mode: 'image',
      }),
    );
    expect(captured).toMatchObject({ image: BASE.name, revision: 2 });
    expect(captured.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(await lab.provisioner.powerStatus(lab.ctx(1, 'power'))).toBe('off');
    const listed = await lab.provisioner.listImages(lab.storeCtx());
    expect(listed.find((i) => i.revision === 2)).toMatchObject({
      sha256: captured.sha256,
      sizeBytes: captured.sizeBytes,
      stamp: { image: BASE.name, revision: 2 },
    });
    // Two VMs at once, from the master the capture left on the host.
    await timed('two loads of the capture at once, master cached', () =>
      Promise.all([
        lab.provisioner.load(lab.ctx(2, 'load'), { image: BASE.name, revision: 2 }),
        lab.provisioner.load(lab.ctx(3, 'load'), { image: BASE.name, revision: 2 }),
      ]),
    );
    for (const n of [2, 3]) {
      expect((await lab.guest(n, ['cat', MARK])).trim()).toBe('captured-bytes');
      expect((await lab.guest(n, ['hostname'])).trim()).toBe(`vm${n}`);
    }
    // Each VM made its own identity: different host keys and machine ids.
    const ids = await Promise.all([2, 3].map((n) => lab.guest(n, ['cat', '/etc/machine-id'])));
    expect(ids[0]).not.toBe(ids[1]);
  });

  it('checkpoints a VM: saved, booted again, postLoad run', async () => {
    const result = await timed('capture (checkpoint)', () =>
      lab.provisioner.capture(lab.ctx(2, 'checkpoint'), {
        image: BASE.name,
        newRevision: 3,
        mode: 'checkpoint',
      }),
    );
    expect(result.revision).toBe(3);
    expect(await lab.provisioner.powerStatus(lab.ctx(2, 'power'))).toBe('on');
    expect((await lab.guest(2, ['cat', MARK])).trim()).toBe('captured-bytes');
  });

  it('powers off hard, on again, and releases a VM with its overlay', async () => {
    await lab.provisioner.powerOff(lab.ctx(1, 'power'));
    expect(await lab.provisioner.powerStatus(lab.ctx(1, 'power'))).toBe('off');
    await lab.provisioner.powerOff(lab.ctx(1, 'power')); // idempotent
    await lab.provisioner.release?.(lab.ctx(1, 'release'));
    await lab.provisioner.release?.(lab.ctx(1, 'release')); // idempotent
    expect(existsSync(`${lab.hostDir}/vms/vlab-lab-vm1`)).toBe(false);
    expect((await lab.host.virsh(['list', '--all', '--name'])).stdout).not.toContain(
      'vlab-lab-vm1',
    );
    const status = await lab.provisioner.nodeStatus(lab.ctx(1, 'status'));
    expect(status).toMatchObject({ power: 'off', verdict: 'reload' });
  });
});
