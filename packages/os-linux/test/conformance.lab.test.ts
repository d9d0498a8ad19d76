import { instantiateOsModule } from '@vlab/core';
import { describeOsModuleConformance } from '@vlab/core/testing';
import { SSH_ERROR_CODES } from '@vlab/ssh';
import { createLabHarness, type Lab, type LabHarness, startLab } from '@vlab/testlab';
import { afterAll } from 'vitest';
import linuxOsModule from '../src/index.js';

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

function fail(): never {
  throw new Error('the lab harness has no moduleDeps: the kit cannot search the module logger');
}

describeOsModuleConformance(
  'os-linux passes the conformance kit on a bookworm lab computer',
  {
    // Instantiated as the manager does, with the harness's deps: what the module logs outside
    // operations is searched for secrets too.
    os: await instantiateOsModule(
      linuxOsModule,
      { pollIntervalMs: 100 },
      harness.moduleDeps?.() ?? fail(),
    ),
    harness,
    // @vlab/ssh's own codes (authentication, handshake, host keys) reach the module through the
    // communicator and pass unchanged; the transport-neutral ones are core codes.
    options: { knownErrorCodes: Object.keys(SSH_ERROR_CODES), operationTimeoutMs: 120_000 },
  },
  { testTimeoutMs: 300_000 },
);
