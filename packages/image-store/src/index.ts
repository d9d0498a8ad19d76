/**
 * vlab's image store: image revisions in a directory — on this host or on another one over SSH —
 * each with a manifest, created through an exclusive reservation, written under a temporary name
 * and published atomically; listing never shows what is not published.
 *
 * @remarks
 * A provisioner implements `imageExists`, `imageSize`, `listImages`, `deleteImage`, `importImage`
 * and the write side of `capture` with it. The on-disk format is in the package's README.
 * @packageDocumentation
 */

export {
  type BackendCallOptions,
  type BackendStat,
  type StoreBackend,
  StoreFullError,
} from './backend.js';
export { IMAGE_STORE_ERROR_CODES, RETIRED_IMAGE_STORE_ERROR_CODES } from './errors.js';
export { LocalBackend } from './local-backend.js';
export {
  IMAGE_FORMATS,
  IMAGE_NAME_PATTERN,
  type ImageFormat,
  type ImageManifest,
  isValidImageName,
  isValidRevision,
  storedImage,
} from './manifest.js';
export { SshBackend, type SshStoreCallOptions, type SshStoreClient } from './ssh-backend.js';
export {
  DISK_FILE,
  ImageStore,
  type ImageStoreOptions,
  MANIFEST_FILE,
  type PublishArgs,
  Reservation,
  type StoreCallOptions,
  type TransferCallOptions,
  type WriteResult,
} from './store.js';
