import { instantiateOsModule, silentLogger } from '@vlab/core';
import { createMemoryLab, describeOsModuleConformance } from '@vlab/core/testing';
import definition from '../src/index.js';

// In-memory machines with a BMC, a disk and an image store; node1 is the machine under test.
const lab = createMemoryLab();
const harness = lab.harness('node1');
// The harness's logger and secrets: what the module logs outside operations is searched too.
const deps = harness.moduleDeps?.() ?? { log: silentLogger, secrets: lab.secretResolver() };
// Made as the manager makes it: definition, contract range, config and operations are checked.
const os = await instantiateOsModule(definition, { pollIntervalMs: 5 }, deps);

describeOsModuleConformance('os-example keeps the OS module contract', { os, harness });
