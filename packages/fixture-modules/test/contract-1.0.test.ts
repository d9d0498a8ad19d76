import {
  CONTRACT_VERSION,
  createSecretResolver,
  instantiateOsModule,
  instantiateProvisioner,
  isCompatible,
  silentLogger,
} from '@vlab/core';
import {
  createMemoryLab,
  describeOsModuleConformance,
  describeProvisionerConformance,
} from '@vlab/core/testing';
import { describe, expect, it } from 'vitest';
import memoryOsModule from '../src/memory-os-module.js';
import memoryProvisioner from '../src/memory-provisioner.js';
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
    for (const member of ['close', 'extensions', 'shell']) expect(member in os, member).toBe(false);
  });

  it('stay compatible with the 1.1 memory modules: the 1.0 OS module declares its family, linux', async () => {
    const os11 = await instantiateOsModule(memoryOsModule, {}, deps);
    const provisioner11 = await instantiateProvisioner(memoryProvisioner, { lab: lab.id }, deps);
    expect(os.family).toBe('linux');
    expect(os11).toMatchObject({ family: 'linux', shell: 'posix' });
    const ok = { ok: true, problems: [] };
    const load = { operation: 'load', osFamily: 'linux' } as const;
    expect(isCompatible(os, provisioner11, load)).toEqual(ok);
    // A 1.0 OS module declares no shell, so a known communicator shell is not checked.
    expect(isCompatible(os, provisioner11, { ...load, shell: 'posix' })).toEqual(ok);
    expect(isCompatible(os11, provisioner, { ...load, shell: 'posix' })).toEqual(ok);
    expect(isCompatible(os11, provisioner11, { ...load, shell: 'posix' })).toEqual(ok);
    expect(isCompatible(os, provisioner11, { operation: 'capture', mode: 'checkpoint' })).toEqual(
      ok,
    );
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
