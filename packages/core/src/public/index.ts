/**
 * The contracts of vlab: what an OS module and a provisioning module must do, the context they
 * receive, typed errors, secrets, progress, the step runner and the compatibility check.
 *
 * @remarks
 * Module packages peer-depend on `@vlab/core` and import only from this entry point (and
 * `@vlab/core/testing` in their tests). Core never imports a module.
 * @packageDocumentation
 */

export { abortError, sleep, throwIfCancelled, untilCancelled } from '../abort.js';
export {
  type Communicator,
  DEFAULT_TRANSFER_IDLE_TIMEOUT_MS,
  type PutOptions,
  type ReachOptions,
  type RunOptions,
  type RunResult,
  type TransferOptions,
  type TransferSource,
  transferIdleTimeoutMs,
} from '../communicator.js';
export {
  assertCompatible,
  type Compatibility,
  type CompatibilityRequest,
  isCompatible,
} from '../compatibility.js';
export { type ConfigIssue, noConfig, parseConfig } from '../config.js';
export type {
  ChildContextOptions,
  ComputerContext,
  ComputerRef,
  ImageRef,
  OperationContext,
  OsContext,
  ProvisionerContext,
  ReservationRef,
} from '../context.js';
export { assertSpeaksContract, CONTRACT_VERSION, speaksContract } from '../contract-version.js';
export {
  type ComputerContextInit,
  createComputerContext,
  createOperationContext,
  createOsContext,
  createProvisionerContext,
  type OperationContextInit,
  type OsContextInit,
  type ProvisionerContextInit,
} from '../create-context.js';
export {
  assertModuleDefinition,
  defineOsModule,
  defineProvisioner,
  instantiateOsModule,
  instantiateProvisioner,
  type ModuleDefinition,
  type ModuleDefinitionBase,
  type ModuleDeps,
  type OsModuleDefinition,
  type ProvisionerDefinition,
} from '../define.js';
export {
  DEFAULT_END_STATE,
  END_STATES,
  type EndState,
  requestedEndState,
} from '../end-state.js';
export {
  CORE_ERROR_CODES,
  type CoreErrorCode,
  commandFailedError,
  coreError,
  RETIRED_CORE_ERROR_CODES,
} from '../errors/core-errors.js';
export {
  ERROR_CODE_PATTERN,
  type ErrorCodeInfo,
  isVlabError,
  VlabError,
  type VlabErrorOptions,
} from '../errors/vlab-error.js';
export {
  type BootMark,
  type ConfirmPowerOptions,
  confirmPowerOff,
  confirmWentDown,
  type GuestBootId,
  readBootMark,
  type StartGoingDownOptions,
  startGoingDown,
  waitForGuest,
} from '../going-down.js';
export { generateHostKey, type HostKeyPair } from '../host-key.js';
export { IDENTITY_DISK, type IdentityDiskFile, identityDiskFiles } from '../identity-disk.js';
export { type BuildIdentityDiskOptions, buildIdentityDisk } from '../identity-disk-image.js';
export {
  createLogger,
  type Logger,
  type LogLevel,
  type LogRecord,
  type LogSink,
  silentLogger,
} from '../logger.js';
export { LOGIN_HINT, LOGIN_PATTERN, loginProblem, RESERVED_LOGINS } from '../login.js';
export { NETWORK_HINT, type Network, parseNetwork, uniqueNetworks } from '../network.js';
export { nodeStatusFromPower, nodeVerdict } from '../node-verdict.js';
export type {
  OsCapabilities,
  OsFeature,
  OsModule,
  PostLoadResult,
  PowerActionOptions,
  PreCaptureArgs,
  PreCaptureResult,
  ReserveArgs,
  ReserveResult,
  UserConnectedArgs,
  UserConnectedResult,
  UserSession,
  WaitForResponseOptions,
} from '../os-module.js';
export {
  type PowerProbe,
  type PowerState,
  type WaitForPowerOptions,
  waitForPowerState,
} from '../power.js';
export {
  createProgressReporter,
  type ProgressEvent,
  type ProgressReporter,
  type ProgressReporterOptions,
  type ProgressSink,
  type ProgressUnit,
  type ProgressUpdate,
} from '../progress.js';
export type {
  CaptureArgs,
  CaptureMode,
  CaptureResult,
  ImageFileSource,
  ImageQuery,
  ImageRevisionRef,
  ImageSource,
  ImageSourceInfo,
  ImageStreamSource,
  ImportImageArgs,
  LoadArgs,
  LoadResult,
  NodeStatus,
  NodeVerdict,
  Provisioner,
  ProvisionerCapabilities,
  ProvisionerFeature,
  StoredImage,
} from '../provisioner.js';
export {
  createSecretResolver,
  redact,
  Secret,
  type SecretRef,
  type SecretResolver,
  type SecretSources,
} from '../secret.js';
export {
  SSH_PUBLIC_KEY_HINT,
  SSH_PUBLIC_KEY_TYPES,
  sshPublicKeyProblem,
} from '../ssh-public-key.js';
export {
  capturedStamp,
  IMAGE_STAMP_PATHS,
  type ImageStamp,
  parseStamp,
  readyStamp,
  type StampState,
  type StampTarget,
  serializeStamp,
  stampToPrepare,
  taintedStamp,
} from '../stamp.js';
export {
  namedStep,
  type RunStepsOptions,
  runSteps,
  type Step,
  type StepOutcome,
  type StepReport,
} from '../steps.js';
export { TransferWatch } from '../transfer-watch.js';
export type { ReservationUser, UserAccess } from '../users.js';
