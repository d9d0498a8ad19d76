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

const lab = createMemoryLab();
const deps = { log: silentLogger, secrets: createSecretResolver({ env: lab.secretEnv }) };
const os = await instantiateOsModule(memoryOsModule, {}, deps);
const provisioner = await instantiateProvisioner(memoryProvisioner, { lab: lab.id }, deps);

describeOsModuleConformance('os-memory keeps the OS module contract', {
  os,
  harness: lab.harness('node1'),
});
describeProvisionerConformance('provisioner-memory keeps the provisioner contract', {
  provisioner,
  os,
  harness: lab.harness('node1'),
});
