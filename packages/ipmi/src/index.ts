/**
 * A native IPMI v2.0 / RMCP+ client for vlab: one UDP socket for many BMCs, sessions kept alive
 * and reused, power control and boot device, typed errors.
 *
 * @remarks
 * The protocol core (`src/protocol/`) does no I/O: bytes in, bytes out, time passed in. The UDP
 * transport around it is the only part that touches the network.
 * @packageDocumentation
 */

export {
  type Bmc,
  type BmcTarget,
  type BootDeviceOptions,
  type CallOptions,
  DEFAULT_CIPHER_SUITES,
  DEFAULT_KEEPALIVE_MS,
  DEFAULT_SESSION_TIMEOUT_MS,
  DEFAULT_TIMEOUT_MS,
  IpmiClient,
  type IpmiClientOptions,
  type PowerActionResult,
  type PresencePong,
  type RawOptions,
  type RawReply,
} from './client.js';
export {
  IPMI_ERROR_CODES,
  type IpmiErrorCode,
  ipmiError,
  RETIRED_IPMI_ERROR_CODES,
} from './errors.js';
export type { RetryPolicy } from './protocol/client-session.js';
export type {
  BootDevice,
  BootFlags,
  ChassisStatus,
  DeviceId,
  PowerAction,
  PowerRestorePolicy,
} from './protocol/commands.js';
export type { CipherSuiteId } from './protocol/crypto.js';
