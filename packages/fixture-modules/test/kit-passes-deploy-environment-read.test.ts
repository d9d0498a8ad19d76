import {
  createSecretResolver,
  instantiateOsModule,
  instantiateProvisioner,
  silentLogger,
} from '@vlab/core';
import { createMemoryLab, provisionerChecks } from '@vlab/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import memoryOsModule from '../src/memory-os-module.js';
import readsInDeployEnvironment from './variants/reads-in-deploy-environment.js';

// The counterpart of the "disk read of the running guest" cases: a provisioner that reads the disk
// in a deploy environment, power on, is right — the kit must pass it (issue 13, section 2).
const lab = createMemoryLab();
afterAll(() => lab.dispose());
const deps = { log: silentLogger, secrets: createSecretResolver({ env: lab.secretEnv }) };

describe('a provisioner that reads the disk in its deploy environment (power on)', async () => {
  const harness = lab.harness('node1');
  const checks = provisionerChecks({
    provisioner: await instantiateProvisioner(readsInDeployEnvironment, { lab: lab.id }, deps),
    os: await instantiateOsModule(memoryOsModule, {}, deps),
    harness,
  });
  for (const id of [
    'provisioner/capture-reads-machine-off',
    'provisioner/capture-calls-pre-capture-once',
    'provisioner/abort-capture-phases',
    'provisioner/pre-capture-failure',
  ]) {
    it(`passes ${id}`, async () => {
      const check = checks.find((c) => c.id === id);
      expect(check, id).toBeDefined();
      await check?.run();
    });
  }

  it('and the disk reads show it: power on, environment "deploy"', async () => {
    await checks.find((c) => c.id === 'provisioner/capture-reads-machine-off')?.run();
    expect(harness.diskReads().map((read) => [read.power, read.environment])).toEqual([
      ['on', 'deploy'],
    ]);
  });
});
