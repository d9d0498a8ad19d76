import type { ErrorCodeInfo } from '@vlab/core';

/**
 * The error codes of `@vlab/image-store` besides the core codes it throws
 * (`VLAB_ERR_IMAGE_EXISTS`, `VLAB_ERR_IMAGE_NOT_FOUND`, `VLAB_ERR_IMAGE_CORRUPT`,
 * `VLAB_ERR_STORE_FULL`, `VLAB_ERR_OP_TIMEOUT`, `VLAB_ERR_OP_CANCELLED`,
 * `VLAB_ERR_ARGUMENT_INVALID`, `VLAB_ERR_CONFIG_INVALID`); documented in docs/errors.md.
 * @public
 */
export const IMAGE_STORE_ERROR_CODES = {
  VLAB_ERR_STORE_IO_FAILED: {
    meaning:
      'A file operation of the image store failed for a reason other than no room (permissions, a missing mount, an I/O error); details hold the store, the image, the operation and errno.',
    hint: "Check that the store's root exists, is mounted and belongs to the user vlab runs as (the SSH login for a remote store); the cause names the file.",
  },
} as const satisfies Record<string, ErrorCodeInfo>;

/** Codes of `@vlab/image-store` that were retired; never used again. @public */
export const RETIRED_IMAGE_STORE_ERROR_CODES: readonly string[] = [];
