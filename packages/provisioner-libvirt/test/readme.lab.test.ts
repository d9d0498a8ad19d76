import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { readmeExample, runReadmeExample } from '@vlab/test-utils';
import { vmAddress } from '@vlab/testlab';
import { describe, expect, it } from 'vitest';
import { useLibvirtLab } from './libvirt-lab.js';

// The README's example runs as it stands (only the import of @vlab/provisioner-libvirt points at
// src/) against the lab's libvirt host: the VM image, as a raw disk, is imported, loaded onto a
// VM, captured, and the VM released.

const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));
const exec = promisify(execFile);

describe('README example', () => {
  const lab = useLibvirtLab();

  it('imports, loads, captures and releases a VM', async () => {
    const example = await readmeExample(PACKAGE_DIR);
    const work = await mkdtemp(join(tmpdir(), 'vlab-libvirt-readme-'));
    try {
      const raw = join(work, 'debian.raw');
      await exec('qemu-img', ['convert', '-q', '-f', 'qcow2', '-O', 'raw', lab.image.path, raw]);
      const sha256 = (await exec('sha256sum', [raw])).stdout.split(' ')[0] as string;
      const out = await runReadmeExample({
        packageDir: PACKAGE_DIR,
        packageName: '@vlab/provisioner-libvirt',
        example,
        timeoutMs: 1_200_000,
        env: {
          KVM_HOST: lab.sshd.host,
          KVM_PORT: String(lab.sshd.port),
          KVM_HOST_KEY: lab.sshd.hostPublicKeys[0] ?? '',
          KVM_KEY_FILE: lab.sshd.clientKey.path,
          KVM_NETWORK: lab.host.network.name,
          KVM_DOMAIN_TYPE: lab.host.domainType,
          KVM_FW_CFG: '1',
          KEY_FILE: lab.image.managementKeyPath,
          VM_ADDRESS: vmAddress(1),
          VM_MAC: '52:54:00:00:64:01',
          STORE: join(work, 'store'),
          IMAGE_FILE: raw,
          IMAGE_SHA256: sha256,
        },
      });
      expect(out.stderr).toBe('');
      expect(out.code).toBe(0);
      expect(out.stdout).toContain('loaded ready\n');
      expect(out.stdout).toContain(`captured 2 ${lab.image.virtualBytes}\n`);
      expect(out.stdout).toContain('power off\n');
      expect((await lab.host.virsh(['list', '--all', '--name'])).stdout.trim()).toBe('');
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});
