import {
  createSecretResolver,
  instantiateOsModule,
  instantiateProvisioner,
  silentLogger,
} from '@vlab/core';
import {
  createMemoryLab,
  describeOsModuleConformance,
  describeProvisionerConformance,
} from '@vlab/core/testing';
import memoryOsModule from '../src/memory-os-module.js';
import memoryProvisioner from '../src/memory-provisioner.js';

// The store starts empty: the provisioner kit seeds the base image through the provisioner's own
// importImage (contract 1.1), and removes what it wrote at the end.
const lab = createMemoryLab({ storeBaseImage: false });
// Modules are created with their harness's deps: what they log outside operations is searched
// for secrets too.
const osHarness = lab.harness('node1');
const provisionerHarness = lab.harness('node1');
const depsOf = (harness: typeof osHarness) =>
  harness.moduleDeps?.() ?? {
    log: silentLogger,
    secrets: createSecretResolver({ env: lab.secretEnv }),
  };
// One instance per kit run: each run ends by closing its instance.
const os = await instantiateOsModule(memoryOsModule, {}, depsOf(osHarness));
const provisioner = await instantiateProvisioner(
  memoryProvisioner,
  { lab: lab.id },
  depsOf(provisionerHarness),
);

describeOsModuleConformance('os-memory keeps the OS module contract', { os, harness: osHarness });
describeProvisionerConformance('provisioner-memory keeps the provisioner contract', {
  provisioner,
  os: await instantiateOsModule(memoryOsModule, {}, depsOf(provisionerHarness)),
  harness: provisionerHarness,
});
