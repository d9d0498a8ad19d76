import { type ErrorCodeInfo, VlabError, type VlabErrorOptions } from '@vlab/core';

/**
 * The error codes of `@vlab/provisioner-baremetal` besides the core codes it throws
 * (`VLAB_ERR_IMAGE_NOT_FOUND`, `VLAB_ERR_IMAGE_EXISTS`, `VLAB_ERR_IMAGE_CORRUPT`,
 * `VLAB_ERR_STORE_FULL`, `VLAB_ERR_POWER_UNCONFIRMED`, `VLAB_ERR_CONFIG_INVALID`,
 * `VLAB_ERR_OP_TIMEOUT`, `VLAB_ERR_OP_CANCELLED`, `VLAB_ERR_CAPABILITY_MISSING`) and those of
 * `@vlab/ipmi`, `@vlab/ssh` and `@vlab/image-store` it passes on; documented in docs/errors.md.
 * @public
 */
export const BAREMETAL_ERROR_CODES = {
  VLAB_ERR_BAREMETAL_DEPLOY_UNREACHABLE: {
    meaning:
      'The deploy environment did not answer SSH with its pinned host key within the deadline after the computer was PXE-booted; the computer was powered off.',
    hint: "Check the computer's PXE set-up and console (does it boot the deploy environment?), the deployHostKey attribute and the deployKey credential; then load again.",
  },
  VLAB_ERR_BAREMETAL_SHUTDOWN_FORCED: {
    meaning:
      'The guest did not power off after preCapture (the BMC still read on at the deadline), so the provisioner powered it off hard and failed the capture: a disk not cleanly shut down is not an image. Nothing was published.',
    hint: "Look at why the guest ignored the shutdown (its console, the OS module's log lines of this capture); load the computer again before capturing it.",
  },
  VLAB_ERR_BAREMETAL_DISK_TOO_SMALL: {
    meaning: "The computer's disk holds fewer bytes than the image revision being loaded.",
    hint: 'Load the image onto a computer with a disk at least as large as the image (details hold both sizes).',
  },
  VLAB_ERR_BAREMETAL_DISK_FAILED: {
    meaning:
      "The deploy environment could not read, write or change the computer's disk (a tool missing, an I/O error, a file system that is not ext2/3/4 for the host keys); details hold the step and the tool's message.",
    hint: "Check that the deploy environment has what the package's README lists (dd, zstd, sha256sum, blockdev, debugfs) and that the disk path is right; the cause holds the tool's output.",
  },
} as const satisfies Record<string, ErrorCodeInfo>;

/** A code of {@link BAREMETAL_ERROR_CODES}. @public */
export type BaremetalErrorCode = keyof typeof BAREMETAL_ERROR_CODES;

/** Codes of `@vlab/provisioner-baremetal` that were retired; never used again. @public */
export const RETIRED_BAREMETAL_ERROR_CODES: readonly string[] = [];

/** A `VlabError` with one of the package's codes and its documented hint. @public */
export function baremetalError(
  code: BaremetalErrorCode,
  summary: string,
  options: VlabErrorOptions = {},
): VlabError {
  return new VlabError(code, summary, {
    ...options,
    hint: options.hint ?? BAREMETAL_ERROR_CODES[code].hint,
  });
}
