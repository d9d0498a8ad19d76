import { type ErrorCodeInfo, VlabError, type VlabErrorOptions } from '@vlab/core';

/**
 * The error codes of `@vlab/provisioner-libvirt` besides the core codes it throws
 * (`VLAB_ERR_IMAGE_NOT_FOUND`, `VLAB_ERR_IMAGE_EXISTS`, `VLAB_ERR_IMAGE_CORRUPT`,
 * `VLAB_ERR_STORE_FULL`, `VLAB_ERR_POWER_UNCONFIRMED`, `VLAB_ERR_CONFIG_INVALID`,
 * `VLAB_ERR_OP_TIMEOUT`, `VLAB_ERR_OP_CANCELLED`, `VLAB_ERR_CAPABILITY_MISSING`) and those of
 * `@vlab/ssh` and `@vlab/image-store` it passes on; documented in docs/errors.md.
 * @public
 */
export const LIBVIRT_ERROR_CODES = {
  VLAB_ERR_LIBVIRT_HOST_FAILED: {
    meaning:
      "A command on the hypervisor host failed (`virsh`, `qemu-img`, a file in the host's directory); the summary holds the tool's message, details the host, the exit code and the step.",
    hint: "Read the tool's message in the error; check that the host has libvirt, qemu-utils and zstd, that its libvirt daemon runs, that the config's network exists there and that the host's directory has room.",
  },
  VLAB_ERR_LIBVIRT_HOST_UNREACHABLE: {
    meaning:
      'The hypervisor host did not answer SSH (refused, no route, timed out) or did not present its pinned host key; the operation stopped there.',
    hint: "Check that the host is up and its sshd listens at the config's address and port, that its key is the config's hostKey, and that the key file the config names is authorized there.",
  },
  VLAB_ERR_LIBVIRT_DOMAIN_FOREIGN: {
    meaning:
      "A domain of the VM's name is defined on the host but vlab did not define it for this computer (its metadata has no vlab mark, or the mark names another computer), so the provisioner did not start, destroy or undefine it; the operation stopped before touching the VM.",
    hint: 'Give the computer a domain name of its own (its `domain` attribute), or, when the domain is no longer wanted, remove it by hand on the host (`virsh destroy` and `virsh undefine`) and run the operation again.',
  },
  VLAB_ERR_LIBVIRT_SHUTDOWN_FORCED: {
    meaning:
      'The guest did not power off after preCapture (libvirt still read it running at the deadline), so the provisioner destroyed the domain and failed the capture: a disk not cleanly shut down is not an image. Nothing was published.',
    hint: "Look at why the guest ignored the shutdown (its serial console log on the host, the OS module's log lines of this capture); load the computer again before capturing it.",
  },
} as const satisfies Record<string, ErrorCodeInfo>;

/** A code of {@link LIBVIRT_ERROR_CODES}. @public */
export type LibvirtErrorCode = keyof typeof LIBVIRT_ERROR_CODES;

/** Codes of `@vlab/provisioner-libvirt` that were retired; never used again. @public */
export const RETIRED_LIBVIRT_ERROR_CODES: readonly string[] = [];

/** A `VlabError` with one of the package's codes and its documented hint. @public */
export function libvirtError(
  code: LibvirtErrorCode,
  summary: string,
  options: VlabErrorOptions = {},
): VlabError {
  return new VlabError(code, summary, {
    ...options,
    hint: options.hint ?? LIBVIRT_ERROR_CODES[code].hint,
  });
}
