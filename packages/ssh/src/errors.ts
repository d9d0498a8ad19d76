import { type ErrorCodeInfo, VlabError, type VlabErrorOptions } from '@vlab/core';

/**
 * The error codes of `@vlab/ssh`, with what they mean and what to do: only conditions of SSH
 * itself. `docs/errors.md` has the same table under `## @vlab/ssh`; a test keeps both in step.
 * Where a core code fits (`VLAB_ERR_OP_TIMEOUT`, `VLAB_ERR_OP_CANCELLED`,
 * `VLAB_ERR_COMPUTER_UNREACHABLE`, `VLAB_ERR_HOSTKEY_MISMATCH`, `VLAB_ERR_COMMAND_FAILED`, and
 * the transport-neutral `VLAB_ERR_CONNECTION_LOST`, `VLAB_ERR_OUTPUT_LIMIT` and
 * `VLAB_ERR_ARGUMENT_INVALID`), the package throws the core code.
 * @public
 */
export const SSH_ERROR_CODES = {
  VLAB_ERR_SSH_HOSTKEY_UNKNOWN: {
    meaning:
      'The computer presented a host key, but the known-hosts store has no pin for it, so the connection was refused.',
    hint: 'Pin the host key that was recorded when the machine was installed (trustHostKeys or the known-hosts store); never accept an unknown key blindly.',
  },
  VLAB_ERR_SSH_AUTH_FAILED: {
    meaning: 'The SSH server refused every authentication method offered for the user.',
    hint: "Check the user name and that its public key is in the computer's authorized_keys (or the password, or the agent's keys); the server's log says why.",
  },
  VLAB_ERR_SSH_HANDSHAKE_FAILED: {
    meaning:
      'The TCP connection opened, but the SSH handshake failed: no common algorithm, a protocol error, or not an SSH server on that port.',
    hint: 'Check that the port runs an SSH server; read the cause in the error for the algorithm or protocol problem.',
  },
  VLAB_ERR_SSH_CHANNEL_REFUSED: {
    meaning:
      'The SSH server refused to open a session channel on a connection with no other channel open, so it was not back-pressure.',
    hint: "Check MaxSessions and any restriction for the user (ForceCommand, Match blocks) in the server's sshd_config.",
  },
  VLAB_ERR_SSH_SFTP_FAILED: {
    meaning:
      'An SFTP operation (open, read, write, rename, stat, mkdir) failed on the computer; details hold the path and the SFTP status.',
    hint: 'Check that the path exists, that the login user may write there, and that the disk is not full.',
  },
  VLAB_ERR_SSH_KEY_INVALID: {
    meaning:
      'A private key, or a public host key line, could not be parsed, or the passphrase of a private key is wrong.',
    hint: 'Give the private key in OpenSSH or PEM format with its passphrase; give host keys as "type base64" lines as in a .pub file.',
  },
  VLAB_ERR_SSH_POOL_CLOSED: {
    meaning: 'A call was made on an SSH pool (or a client or communicator of it) after close().',
    hint: 'Create a new pool for new work; a closed pool does not reopen.',
  },
} as const satisfies Record<string, ErrorCodeInfo>;

/**
 * Codes of `@vlab/ssh` that were retired; never reused. Only released codes are listed:
 * `VLAB_ERR_SSH_ARGUMENT_INVALID`, `VLAB_ERR_SSH_CONNECTION_LOST` and `VLAB_ERR_SSH_OUTPUT_LIMIT`
 * became core codes before the first release, and are never reused either.
 * @public
 */
export const RETIRED_SSH_ERROR_CODES: readonly string[] = [];

/** An error code of `@vlab/ssh`. @public */
export type SshErrorCode = keyof typeof SSH_ERROR_CODES;

/**
 * Makes a {@link @vlab/core#VlabError} with one of the `@vlab/ssh` codes; the hint defaults to
 * the documented one. Messages name the computer and the host, never a secret.
 * @public
 */
export function sshError(
  code: SshErrorCode,
  summary: string,
  options: VlabErrorOptions = {},
): VlabError {
  return new VlabError(code, summary, {
    ...options,
    hint: options.hint ?? SSH_ERROR_CODES[code].hint,
  });
}
