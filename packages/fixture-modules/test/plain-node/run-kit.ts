// Run by kit-under-plain-node.test.ts in a child `node` process, not under vitest: the conformance
// kit must work wherever a module author runs it. Prints one line per check, then a summary;
// exits 0 only when every check ran and passed.
import {
  createSecretResolver,
  instantiateOsModule,
  instantiateProvisioner,
  type OsModule,
  silentLogger,
  untilCancelled,
} from '@vlab/core';
import { createMemoryLab, osModuleChecks, provisionerChecks } from '@vlab/core/testing';
import memoryOsModule from '../../src/memory-os-module.js';
import memoryProvisioner from '../../src/memory-provisioner.js';

const lab = createMemoryLab();
const deps = { log: silentLogger, secrets: createSecretResolver({ env: lab.secretEnv }) };
const os = await instantiateOsModule(memoryOsModule, {}, deps);
const provisioner = await instantiateProvisioner(memoryProvisioner, { lab: lab.id }, deps);
// The same module, except that waitForResponse waits on nothing but a deadline of core's: a
// legitimate way to time out, and the only thing then pending in the process.
const waitsOnDeadline: OsModule = {
  ...os,
  async waitForResponse(ctx, options = {}) {
    const wait = ctx.child({
      phase: 'wait',
      deadline: Date.now() + (options.timeoutMs ?? 600_000),
    });
    await untilCancelled(new Promise<never>(() => {}), wait.signal, ctx.computer.name);
  },
};
const checks = [
  ...osModuleChecks({ os, harness: lab.harness('node1') }),
  ...provisionerChecks({ provisioner, os, harness: lab.harness('node1') }),
  ...osModuleChecks({ os: waitsOnDeadline, harness: lab.harness('node1') }).filter(
    (check) => check.id === 'os/wait-for-response-timeout',
  ),
];

let passed = 0;
for (const check of checks) {
  try {
    await check.run();
    passed += 1;
    console.log(`ok ${check.id}`);
  } catch (error) {
    console.log(`FAIL ${check.id}: ${(error as Error).message}`);
  }
}
console.log(`${passed} of ${checks.length} checks passed`);
lab.dispose();
process.exitCode = passed === checks.length ? 0 : 1;
