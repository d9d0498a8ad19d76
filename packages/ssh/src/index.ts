/**
 * A pooled, safe SSH client for vlab modules, on `ssh2`: a connection pool with back-pressure,
 * exec that ends the whole remote process group (a Windows process tree) on abort, POSIX and
 * PowerShell quoting each in one place, pinned host
 * keys, SFTP and streams with hashing and progress, `waitForSsh`, and the SSH implementation of
 * `@vlab/core`'s `Communicator`.
 * @packageDocumentation
 */

export {
  type FileOptions,
  type ReadOptions,
  SshClient,
  type StreamToOptions,
  type TrustOptions,
  type WriteFileOptions,
} from './client.js';
export type { UnknownHostKeyPolicy } from './connection.js';
export { RETIRED_SSH_ERROR_CODES, SSH_ERROR_CODES, type SshErrorCode, sshError } from './errors.js';
export type { ExecOptions, ExecResult } from './exec.js';
export {
  fingerprint,
  type HostKeyStore,
  hostKeyId,
  MemoryHostKeyStore,
  type PublicKey,
  parsePublicKey,
} from './host-key.js';
export { KnownHostsFile } from './known-hosts-file.js';
export { TransferMeter, type TransferMeterOptions, type TransferSummary } from './meter.js';
export type { SshPoolStats } from './pool.js';
export {
  encodePowerShellCommand,
  MAX_POWERSHELL_COMMAND_LINE,
  powerShellScript,
  quotePowerShellLiteral,
} from './powershell.js';
export { MAX_COMMAND_LINE_BYTES, quoteArgument, quoteCommand } from './quote.js';
export type { RemoteExit, RemoteProcess, SpawnOptions } from './remote-process.js';
export type { RemoteStats } from './sftp.js';
export { SshCommunicator, type SshCommunicatorOptions } from './ssh-communicator.js';
export { SshPool, type SshPoolOptions } from './ssh-pool.js';
export type { RemoteShell, SshAuth, SshTarget } from './target.js';
export { type WaitForSshOptions, waitForSsh } from './wait-for-ssh.js';
