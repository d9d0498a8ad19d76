/**
 * The conformance kit: checks that an OS module or a provisioner keeps the `@vlab/core` contract,
 * driven through a harness the author supplies, and an in-memory lab as the reference harness.
 *
 * @remarks
 * Needs vitest (a peer dependency) for `describeOsModuleConformance` and
 * `describeProvisionerConformance`; the check sets themselves run anywhere.
 * @packageDocumentation
 */

export {
  type ConformanceCheck,
  ConformanceFailure,
  type ConformanceOptions,
} from '../testing/conformance-check.js';
export {
  type DescribeConformanceOptions,
  describeOsModuleConformance,
  describeProvisionerConformance,
} from '../testing/describe-conformance.js';
export type {
  ConformanceHarness,
  HarnessAccount,
  HarnessCommand,
  HarnessContextOptions,
  HarnessDiskRead,
  HarnessFile,
  HarnessIdentity,
  HarnessPowerEvent,
  MachineEnvironment,
} from '../testing/harness.js';
export {
  type MachineState,
  STATE_NOISE,
  stateDifferences,
} from '../testing/machine-state.js';
export { MemoryCommunicator } from '../testing/memory/memory-communicator.js';
export {
  createMemoryLab,
  imageKey,
  MEMORY_BASE_IMAGE,
  type MemoryImage,
  MemoryLab,
  type MemoryLabOptions,
} from '../testing/memory/memory-lab.js';
export {
  type DiskReadEvent,
  MEMORY_HOST_KEY_PATH,
  MEMORY_IDENTITY_UNIT_PATH,
  type MemoryAccount,
  type MemoryBootTarget,
  type MemoryCommandResult,
  type MemoryDuration,
  MemoryMachine,
  type MemoryMachineTiming,
  type MemorySession,
  type PowerEvent,
} from '../testing/memory/memory-machine.js';
export { type OsModuleSubject, osModuleChecks } from '../testing/os-module-checks.js';
export { type ProvisionerSubject, provisionerChecks } from '../testing/provisioner-checks.js';
