import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { instantiateOsModule } from '@vlab/core';
import { describeProvisionerConformance } from '@vlab/core/testing';
import { IMAGE_STORE_ERROR_CODES } from '@vlab/image-store';
import linuxOsModule from '@vlab/os-linux';
import { SSH_ERROR_CODES } from '@vlab/ssh';
import { afterAll } from 'vitest';
import { libvirtConfig } from '../src/config.js';
import { LIBVIRT_ERROR_CODES } from '../src/errors.js';
import { createLibvirtProvisioner } from '../src/libvirt-provisioner.js';
import { createLibvirtKitHarness } from './libvirt-kit-harness.js';
import { startLibvirtLab } from './libvirt-lab.js';

// The conformance kit's provisioner checks on a real libvirt domain (QEMU, KVM or TCG) with
// os-linux, the host reached over SSH as root. The kit seeds the provisioner's store with the
// harness's image through importImage and watches the VM only from outside: libvirt's domain state
// and events for power, the host's /proc for reads of the VM's overlay, debugfs on a raw copy of an
// off guest's disk, the harness's own SSH connection to a running one (see libvirt-kit-harness.ts).
// Started at collection time: the kit builds its checks from the harness. Root and the Debian
// packages of scripts/lib/machine-setup.sh; fails, never skips. Each check loads or resets the VM
// at least once (a boot under TCG takes 30-60 s): the whole kit takes long.
const started = performance.now();
const lab = await startLibvirtLab({}, { seedBase: false });
const work = await mkdtemp(join(tmpdir(), 'vlab-libvirt-kit-'));
const storeDir = join(work, 'store');
const harness = await createLibvirtKitHarness(lab, 1, { storeDir, pollMs: 200 });
const deps =
  harness.moduleDeps?.() ??
  (() => {
    throw new Error('the kit harness has no moduleDeps');
  })();
const provisioner = createLibvirtProvisioner(libvirtConfig(lab.configInput(storeDir)), deps);
const os = await instantiateOsModule(linuxOsModule, { pollIntervalMs: 200 }, deps);
afterAll(async () => {
  try {
    await provisioner.close?.();
    await harness.close();
    await lab.close();
    await rm(work, { recursive: true, force: true });
  } finally {
    harness.figures.push(`run took ${((performance.now() - started) / 1000).toFixed(1)} s`);
    console.log(`libvirt conformance figures:\n- ${harness.figures.join('\n- ')}`);
  }
}, 300_000);

describeProvisionerConformance(
  'provisioner-libvirt passes the conformance kit on a libvirt domain with os-linux',
  {
    provisioner,
    os,
    harness,
    options: {
      // Codes of the packages it is built on pass through unchanged.
      knownErrorCodes: [
        ...Object.keys(LIBVIRT_ERROR_CODES),
        ...Object.keys(SSH_ERROR_CODES),
        ...Object.keys(IMAGE_STORE_ERROR_CODES),
      ],
      operationTimeoutMs: 900_000,
    },
  },
  { testTimeoutMs: 3_600_000 },
);
