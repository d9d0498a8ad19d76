import {
  CONTRACT_VERSION,
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
import { describe, expect, it } from 'vitest';
import memoryOsModule10 from './contract-1.0/memory-os-module.js';
import memoryProvisioner10 from './contract-1.0/memory-provisioner.js';

// Modules written against contract 1.0.0, kept as they were: contract 1.1 only added, so they
// still load on this core and pass the whole kit (the 1.1 checks skip what they do not declare).
const lab = createMemoryLab();
const deps = { log: silentLogger, secrets: createSecretResolver({ env: lab.secretEnv }) };
const os = await instantiateOsModule(memoryOsModule10, {}, deps);
const provisioner = await instantiateProvisioner(memoryProvisioner10, { lab: lab.id }, deps);

describe('modules written against contract 1.0.0', () => {
  it('declare ^1.0.0 and use no 1.1 feature, on a 1.1 core', () => {
    expect(CONTRACT_VERSION).toBe('1.1.0');
    expect(memoryOsModule10.contract).toBe('^1.0.0');
    expect(memoryProvisioner10.contract).toBe('^1.0.0');
    expect(provisioner.capabilities.features).not.toContain('importImage');
    expect(provisioner.capabilities.features).not.toContain('release');
    for (const member of ['importImage', 'release', 'close', 'extensions'])
      expect(member in provisioner, member).toBe(false);
    for (const member of ['close', 'extensions']) expect(member in os, member).toBe(false);
  });
});

describeOsModuleConformance('a 1.0 OS module keeps the 1.1 OS module contract', {
  os,
  harness: lab.harness('node1'),
});
describeProvisionerConformance('a 1.0 provisioner keeps the 1.1 provisioner contract', {
  provisioner,
  os: await instantiateOsModule(memoryOsModule10, {}, deps),
  harness: lab.harness('node1'),
});
