import { describeOsModuleConformance } from '@vlab/core/testing';
import { SSH_ERROR_CODES } from '@vlab/ssh';
import { createLabHarness, type Lab, type LabHarness, startLab } from '@vlab/testlab';
import { afterAll } from 'vitest';
import { linuxOsConfig } from '../src/config.js';
import { createLinuxOsModule } from '../src/linux-os-module.js';

// The conformance kit of @vlab/core on a testlab computer booted from a real Debian bookworm
// disk: every check resets the computer through its deploy environment first, and observes it
// only from outside (BMC power, the disk, the lab's boot id).
// Started at collection time: the kit builds its checks from the harness (image, computer).
const lab: Lab = await startLab({ computers: 1, clients: 2 });
const harness: LabHarness = await createLabHarness(lab, 'c1', { pollMs: 100 });
afterAll(async () => {
  await harness.close();
  await lab.down();
});

describeOsModuleConformance(
  'os-linux passes the conformance kit on a bookworm lab computer',
  {
    os: createLinuxOsModule(linuxOsConfig({ pollIntervalMs: 100 })),
    harness,
    // @vlab/ssh's own codes reach the module through the communicator and pass unchanged.
    options: { knownErrorCodes: Object.keys(SSH_ERROR_CODES), operationTimeoutMs: 120_000 },
  },
  { testTimeoutMs: 300_000 },
);
