import { type ErrorCodeInfo, VlabError, type VlabErrorOptions } from '@vlab/core';

/**
 * The error codes of `@vlab/ipmi`, with what they mean and what to do. `docs/errors.md` has the
 * same table under `## @vlab/ipmi`; a test keeps both in step. Every error names the BMC's
 * address (`details.bmc`, and in the message), never the password. A cancelled call throws the
 * core code `VLAB_ERR_OP_CANCELLED`.
 * @public
 */
export const IPMI_ERROR_CODES = {
  VLAB_ERR_IPMI_NO_RESPONSE: {
    meaning:
      'The BMC did not answer: no reply came to any attempt before the retry budget or the deadline ran out. Details hold the attempts made, the step (session set-up or a command) and mayHaveRun (true when a command sent only once may have reached it).',
    hint: 'Check that the BMC is powered, that its address and UDP port (623) are right and reachable from here, and that IPMI over LAN is enabled on it; on a slow network raise timeoutMs.',
  },
  VLAB_ERR_IPMI_PASSWORD_WRONG: {
    meaning:
      'The BMC knows the user, but the RAKP 2 key-exchange code did not match the configured password, so the session was not opened.',
    hint: 'Check the password for this user on the BMC (passwords longer than 20 bytes are not possible in IPMI v2.0); the password itself is never logged.',
  },
  VLAB_ERR_IPMI_USER_UNKNOWN: {
    meaning:
      'The BMC refused the user name during session set-up (RAKP status "unauthorized name"): no such user, or the user is disabled or has no LAN access.',
    hint: 'Check the user name (case matters) and that the user is enabled with IPMI-over-LAN access on the BMC (ipmitool user list / channel getaccess).',
  },
  VLAB_ERR_IPMI_PRIVILEGE_REFUSED: {
    meaning:
      'The BMC would not give the session the requested privilege level (RAKP "invalid/unauthorized role", or Set Session Privilege Level failed).',
    hint: "Ask for a lower privilege (operator suffices for power and boot device), or raise the user's privilege limit on the BMC for the LAN channel.",
  },
  VLAB_ERR_IPMI_CIPHER_UNSUPPORTED: {
    meaning:
      'The BMC refused every cipher suite offered (Open Session status: invalid algorithm or no cipher suite match). Details list the suites tried and the last status.',
    hint: 'Offer a suite the BMC supports (cipherSuites: [3] for older BMCs, [17] for SHA-256 ones); ipmitool -I lanplus -C <n> tells which ones it accepts.',
  },
  VLAB_ERR_IPMI_SESSION_REFUSED: {
    meaning:
      'The BMC refused to open an RMCP+ session for another reason (no free session slot, no IPMI v2.0 on the channel, an RMCP+ status error, or a RAKP 4 check that failed).',
    hint: 'Read the RMCP+ status in the details; free sessions on the BMC (or wait for idle ones to time out, about 60 s), and check that IPMI v2.0 / RMCP+ is enabled.',
  },
  VLAB_ERR_IPMI_COMPLETION_CODE: {
    meaning:
      'The BMC answered a command with a non-zero completion code; details hold the network function, command, code and its name.',
    hint: 'Look the completion code up in the details: 0xC1 means the BMC lacks the command, 0xD4 too low a privilege, 0xCC a value it rejects, 0xD5 not possible in the current state.',
  },
  VLAB_ERR_IPMI_OUTCOME_UNKNOWN: {
    meaning:
      'A power command that is never re-sent blindly (cycle, hard reset, soft shutdown, diagnostic interrupt) got no reply, and the chassis status read afterwards cannot tell whether the BMC ran it.',
    hint: 'Read the power state (and watch the machine) before deciding; send the command again only if you know it did not run.',
  },
  VLAB_ERR_IPMI_PROTOCOL_ERROR: {
    meaning:
      'The BMC sent a reply that does not follow IPMI v2.0 (bad length, checksum or field); details hold what was wrong.',
    hint: 'Retry once; if it persists, update the BMC firmware or report the BMC model with the details (a packet capture helps).',
  },
  VLAB_ERR_IPMI_ARGUMENT_INVALID: {
    meaning:
      'A call was given a value IPMI cannot carry: a user name over 16 bytes, a password or Kg over 20 bytes, an unknown cipher suite, or a raw network function, command or data out of range.',
    hint: 'Fix the named argument; the message says which one and what range it must be in.',
  },
  VLAB_ERR_IPMI_CLIENT_CLOSED: {
    meaning: 'A call was made on an IPMI client (or a BMC handle of it) after close().',
    hint: 'Create a new client for new work; a closed client does not reopen.',
  },
  VLAB_ERR_IPMI_SOCKET_FAILED: {
    meaning:
      'The local UDP socket could not be opened or could not send (bind failure, no route, the host name does not resolve).',
    hint: 'Check the BMC host name or address, local routes and firewall, and that bindAddress/bindPort are free on this machine.',
  },
} as const satisfies Record<string, ErrorCodeInfo>;

/** Codes of `@vlab/ipmi` that were retired; never reused. @public */
export const RETIRED_IPMI_ERROR_CODES: readonly string[] = [];

/** An error code of `@vlab/ipmi`. @public */
export type IpmiErrorCode = keyof typeof IPMI_ERROR_CODES;

/**
 * Makes a {@link @vlab/core#VlabError} with one of the `@vlab/ipmi` codes; the hint defaults to
 * the documented one. Put the BMC address in the summary and in `details.bmc`; never a secret.
 * @public
 */
export function ipmiError(
  code: IpmiErrorCode,
  summary: string,
  options: VlabErrorOptions = {},
): VlabError {
  return new VlabError(code, summary, {
    ...options,
    hint: options.hint ?? IPMI_ERROR_CODES[code].hint,
  });
}
