/**
 * The vlab manager: composes the OS modules and provisioners a configuration file names, and
 * keeps the lab's computers, images and users in PostgreSQL (embedded by default).
 *
 * @remarks
 * Start one with {@link createManager}. The manager depends on no module package: it imports each
 * one the configuration names from the configuration's `installDir`. Every reservation runs as a
 * durable workflow (DBOS) in the same PostgreSQL. docs/manager.md describes the workflows and the
 * configuration file.
 * @packageDocumentation
 */

export {
  type ConfigLocation,
  type ConfigSource,
  type LocatedConfigIssue,
  type ManagerConfigFile,
  parseManagerConfig,
  readManagerConfig,
} from './config/config-file.js';
export type { KeyPath } from './config/key-path.js';
export {
  type ComputerAddresses,
  type ComputerConfig,
  type DatabaseConfig,
  type ImageConfig,
  type ManagerConfig,
  type ModuleEntry,
  managerConfigSchema,
  type PoliciesConfig,
  type PoolComputerConfig,
  type PoolConfig,
} from './config/manager-config.js';
export { type EventQuery, type LabEvent, PROGRESS_EVENT } from './database/events.js';
export type { FollowQuery } from './database/follow-events.js';
export type { HostKeyPins } from './database/host-key-store.js';
export type {
  ComputerState,
  EventOutcome,
  NewRevisionTest,
  ProgressSample,
  ReservationState,
  RevisionState,
  UserRole,
} from './database/schema.js';
export type { LabUser, LabUsers, NewUser, UserChanges } from './database/users.js';
export type { CommandShell, CommunicatorFactory } from './engine/computer-access.js';
export {
  type ComputerStatus,
  type LabComputers,
  MAX_MAINTENANCE_REASON,
  MAX_RELOAD_REQUEST_ID,
  type ReloadRequest,
} from './engine/computers.js';
export type { StepDone, StepObserver } from './engine/engine.js';
export type { ImageStatus, LabImages, RevisionStatus } from './engine/images.js';
export {
  type CaptureRequest,
  type LabReservations,
  MAX_END_REASON,
  MAX_NAME,
  MAX_REQUEST_ID,
  MAX_RESERVATION_USERS,
  type ReservationAccess,
  type ReservationRequest,
  type ReservationStatus,
} from './engine/reservations.js';
export { WORKFLOW_VERSION } from './engine/workflow-runtime.js';
export {
  MANAGER_ERROR_CODES,
  type ManagerErrorCode,
  RETIRED_MANAGER_ERROR_CODES,
} from './errors.js';
export {
  type ApiToken,
  type ApiTokens,
  type IssuedApiToken,
  MAX_TOKEN_NAME,
  type TokenHolder,
} from './http/api-tokens.js';
export {
  FIRST_ADMIN_LOGIN,
  type FirstAdminToken,
  issueFirstAdminToken,
} from './http/first-admin-token.js';
export { createHttpApi, type HttpApiOptions, MAX_REQUEST_BODY } from './http/http-api.js';
export { type CreateManagerOptions, createManager, type Manager } from './manager.js';
export type { LoadedModuleInfo } from './modules/compose-modules.js';
export type { InventoryChanges } from './state/inventory.js';
