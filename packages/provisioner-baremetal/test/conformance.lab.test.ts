import { join } from 'node:path';
import { instantiateOsModule, instantiateProvisioner } from '@vlab/core';
import { describeProvisionerConformance } from '@vlab/core/testing';
import { IMAGE_STORE_ERROR_CODES } from '@vlab/image-store';
import { IPMI_ERROR_CODES } from '@vlab/ipmi';
import linuxOsModule from '@vlab/os-linux';
import { SSH_ERROR_CODES } from '@vlab/ssh';
import {
  createLabHarness,
  DEPLOY_DISK_PATH,
  type Lab,
  type LabHarness,
  startLab,
} from '@vlab/testlab';
import { afterAll } from 'vitest';
import { BAREMETAL_ERROR_CODES } from '../src/errors.js';
import baremetalProvisioner from '../src/index.js';

// The conformance kit's provisioner checks on a testlab computer: a BMC (ipmi_sim), a PXE deploy
// environment, a Debian disk; the store is a directory of the lab. The kit seeds the store with
// the lab's generic image through importImage and watches the machine only from outside (BMC
// power, the deploy disk's read counter, the SSH banner, the store directory).
// Started at collection time: the kit builds its checks from the harness.
const lab: Lab = await startLab({ computers: 1, clients: 2 });
const storeDir = join(lab.dir, 'store');
const harness: LabHarness = await createLabHarness(lab, 'c1', { pollMs: 100, storeDir });
const deps =
  harness.moduleDeps?.() ??
  (() => {
    throw new Error('the lab harness has no moduleDeps');
  })();
const provisioner = await instantiateProvisioner(
  baremetalProvisioner,
  {
    store: { path: storeDir },
    deployDisk: DEPLOY_DISK_PATH,
    cipherSuites: [17, 3],
    pollIntervalMs: 200,
  },
  deps,
);
const os = await instantiateOsModule(linuxOsModule, { pollIntervalMs: 200 }, deps);
afterAll(async () => {
  await harness.close();
  await lab.down();
});

describeProvisionerConformance(
  'provisioner-baremetal passes the conformance kit on a lab computer with os-linux',
  {
    provisioner,
    os,
    harness,
    options: {
      // Codes of the packages it is built on pass through unchanged.
      knownErrorCodes: [
        ...Object.keys(BAREMETAL_ERROR_CODES),
        ...Object.keys(SSH_ERROR_CODES),
        ...Object.keys(IPMI_ERROR_CODES),
        ...Object.keys(IMAGE_STORE_ERROR_CODES),
      ],
      operationTimeoutMs: 900_000,
    },
  },
  { testTimeoutMs: 3_600_000 },
);
