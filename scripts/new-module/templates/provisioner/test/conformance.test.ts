import { instantiateOsModule, instantiateProvisioner, silentLogger } from '@vlab/core';
import { createMemoryLab, describeProvisionerConformance } from '@vlab/core/testing';
import definition from '../src/index.js';
import memoryOs from './memory-os.js';

// In-memory machines with a BMC, a disk and an image store; node1 is the machine under test. The
// store starts empty: the kit imports the base image through importImage, and deletes what it
// imported or captured at the end.
const lab = createMemoryLab({ storeBaseImage: false });
const harness = lab.harness('node1');
// The harness's logger and secrets: what the modules log outside operations is searched too.
const deps = harness.moduleDeps?.() ?? { log: silentLogger, secrets: lab.secretResolver() };
// Made as the manager makes them: definition, contract range, config and operations are checked.
const provisioner = await instantiateProvisioner(definition, { lab: lab.id }, deps);
// The OS module of the lab's image: the kit watches which of its operations the provisioner
// calls, and when.
const os = await instantiateOsModule(memoryOs, { pollIntervalMs: 5 }, deps);

describeProvisionerConformance('provisioner-example keeps the provisioner contract', {
  provisioner,
  os,
  harness,
});
