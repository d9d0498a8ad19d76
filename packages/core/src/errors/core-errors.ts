import { type ErrorCodeInfo, VlabError, type VlabErrorOptions } from './vlab-error.js';

/**
 * The error codes of the contracts themselves, with what they mean and what to do.
 * `docs/errors.md` has the same table; a test keeps both in step.
 * @public
 */
export const CORE_ERROR_CODES = {
  VLAB_ERR_OP_TIMEOUT: {
    meaning: 'An operation did not finish before its deadline.',
    hint: 'Check that the computer is powered and reachable; if it is only slow, raise the deadline of that operation.',
  },
  VLAB_ERR_OP_CANCELLED: {
    meaning:
      'An operation stopped because its AbortSignal fired; `reason` holds what the caller gave.',
    hint: 'Nothing, if the cancel was intended. The machine may be half-way through a step: reload it before handing it out.',
  },
  VLAB_ERR_COMPUTER_UNREACHABLE: {
    meaning: 'The computer did not answer over the management network.',
    hint: 'Check its power (through its BMC or hypervisor), its network cable or bridge, and that sshd runs in the image.',
  },
  VLAB_ERR_CONNECTION_LOST: {
    meaning:
      'The connection to the computer dropped while an operation ran; the remote program may or may not have finished.',
    hint: 'Check why the computer went away (a reboot, a crash, the network); run the operation again only if it is idempotent.',
  },
  VLAB_ERR_OUTPUT_LIMIT: {
    meaning:
      "A command's stdout or stderr grew beyond the call's maxOutputBytes; the remote program was stopped.",
    hint: 'Redirect the output to a file on the computer and read it with get or getStream, or raise maxOutputBytes for that call.',
  },
  VLAB_ERR_ARGUMENT_INVALID: {
    meaning:
      'A communicator refused an argument it cannot pass safely: a NUL byte, a lone surrogate, a program name starting with a hyphen, a path that is not absolute.',
    hint: 'This is a bug in the caller (the OS module or provisioner): validate input before it reaches the communicator. The details name the argument.',
  },
  VLAB_ERR_COMMAND_FAILED: {
    meaning:
      'A command run on the computer exited with a non-zero code; details hold the program, the exit code and the end of stderr.',
    hint: 'Read the stderr tail in the details; run the same program on the computer by hand to see the whole output.',
  },
  VLAB_ERR_IMAGE_NOT_FOUND: {
    meaning: 'The image store has no such image or revision.',
    hint: 'List the images with the provisioner (listImages) and check the name and revision the request asks for.',
  },
  VLAB_ERR_IMAGE_EXISTS: {
    meaning: 'A capture or an import would write an image revision that already exists.',
    hint: 'Capture or import under a new revision number, or delete the old revision first if it is really unused.',
  },
  VLAB_ERR_IMAGE_CORRUPT: {
    meaning:
      "An image's bytes do not match its SHA-256; the provisioner removed what it had written.",
    hint: 'Copy or download the image again and check its SHA-256 before importing it; if a stored revision fails, delete it and recapture or reimport it.',
  },
  VLAB_ERR_STORE_FULL: {
    meaning:
      'The image store has no room for the revision being written; the provisioner removed what it had written.',
    hint: 'Delete unused image revisions (listImages, deleteImage) or give the store more space, then try again.',
  },
  VLAB_ERR_CAPABILITY_MISSING: {
    meaning:
      'A module was asked for something it does not declare (an operation, a capture mode or an end state).',
    hint: 'Pick a provisioner and OS module pair that declares it (isCompatible tells before anything runs), or drop the request.',
  },
  VLAB_ERR_MODULE_CONTRACT_MISMATCH: {
    meaning:
      "A module speaks a contract version range that does not include this @vlab/core's contract version.",
    hint: 'Install a release of the module built for this contract version, or a @vlab/core the module speaks.',
  },
  VLAB_ERR_MODULE_INVALID: {
    meaning:
      'A package named as a module does not export a valid module definition, or its instance lacks required operations or has operations it does not declare.',
    hint: 'Check the module name in the config; the package must default-export the result of defineOsModule or defineProvisioner, and its instance must declare every operation beyond the contract in extensions.',
  },
  VLAB_ERR_CONFIG_INVALID: {
    meaning: 'A configuration value is missing or has the wrong type; the message names the key.',
    hint: 'Fix the named key in the configuration file and start again.',
  },
  VLAB_ERR_SECRET_UNRESOLVED: {
    meaning: 'A secret reference (environment variable or file) could not be read.',
    hint: 'Set the named environment variable, or create the named file readable by the manager.',
  },
  VLAB_ERR_HOSTKEY_MISMATCH: {
    meaning:
      'The computer presented a host key that differs from the pinned one, and the connection was refused.',
    hint: 'If the machine was reinstalled outside vlab, remove its pin from the known-hosts store; otherwise treat it as an attack and investigate.',
  },
  VLAB_ERR_POWER_UNCONFIRMED: {
    meaning:
      'A machine was expected to reach a power state (off, or down for a reboot) and the power probe never reported it.',
    hint: 'Check the machine through its BMC or hypervisor console: it may hang in shutdown. Power it off from outside, then reload it.',
  },
  VLAB_ERR_STAMP_INVALID: {
    meaning: 'The image stamp on the computer is not valid JSON of the expected shape.',
    hint: 'Reload the computer; if it recurs, recapture the image, whose stamp is damaged.',
  },
  VLAB_ERR_STEP_CLEANUP_FAILED: {
    meaning:
      'A step sequence finished, but one or more cleanups failed and may have left something behind.',
    hint: 'Read the cleanup errors in the details and remove what they name (temporary images, boot flags) by hand.',
  },
} as const satisfies Record<string, ErrorCodeInfo>;

/**
 * Core codes that were retired. A retired code is never used again for another meaning.
 * @public
 */
export const RETIRED_CORE_ERROR_CODES: readonly string[] = [];

/** A core error code. @public */
export type CoreErrorCode = keyof typeof CORE_ERROR_CODES;

/**
 * Makes a {@link VlabError} with one of the core codes; the hint defaults to the documented one.
 * @param summary - What failed, without the computer or the hint (the message adds both).
 * @public
 */
export function coreError(
  code: CoreErrorCode,
  summary: string,
  options: VlabErrorOptions = {},
): VlabError {
  return new VlabError(code, summary, {
    ...options,
    hint: options.hint ?? CORE_ERROR_CODES[code].hint,
  });
}

/**
 * The error for a command that exited non-zero: names the program (argv[0] only, since later
 * arguments may carry data), the exit code and the last 2 KiB of stderr.
 * @param argv - The command that ran; only `argv[0]` goes into the error.
 * @param result - How it ended: exit code, killing signal if any, and its stderr.
 * @param computer - The computer it ran on.
 * @public
 */
export function commandFailedError(
  argv: readonly string[],
  result: {
    readonly code: number;
    readonly signal?: string | undefined;
    readonly stderr: Uint8Array;
  },
  computer: string,
): VlabError {
  const stderr = Buffer.from(result.stderr).toString('utf8');
  const stderrTail = stderr.length > 2048 ? `…${stderr.slice(-2048)}` : stderr;
  const program = argv[0] ?? '(empty)';
  const how =
    result.signal === undefined
      ? `exited with code ${result.code}`
      : `was killed by ${result.signal}`;
  return coreError(
    'VLAB_ERR_COMMAND_FAILED',
    `${program} ${how}: ${stderrTail.trim() || '(no stderr)'}`,
    {
      computer,
      details: { program, exitCode: result.code, signal: result.signal, stderrTail },
    },
  );
}
