import semver from 'semver';
import { coreError } from './errors/core-errors.js';

/**
 * The version of the module contracts this `@vlab/core` defines. It follows semver on its own,
 * apart from the package version: a breaking contract change is a new major. 1.1.0 added, all
 * optional: `importImage`, `release`, `close`, declared `extensions`, the `StoredImage` fields
 * `sha256`, `osFamily`, `stamp` and `storedBytes`, and `CaptureResult.storedBytes`; a module
 * declaring `^1.0.0` still loads.
 * @public
 */
export const CONTRACT_VERSION = '1.1.0';

/**
 * Whether a module declaring `range` speaks `version` (default: {@link CONTRACT_VERSION}).
 * @returns False, rather than throwing, when `range` is not a semver range.
 * @public
 */
export function speaksContract(range: string, version: string = CONTRACT_VERSION): boolean {
  return semver.validRange(range) !== null && semver.satisfies(version, range);
}

/**
 * Throws `VLAB_ERR_MODULE_CONTRACT_MISMATCH` naming both versions unless the module speaks
 * this core's contract version; `VLAB_ERR_MODULE_INVALID` when `contract` is not a semver range.
 * @param module - The module's name (for the message) and its declared contract range.
 * @public
 */
export function assertSpeaksContract(module: {
  readonly name: string;
  readonly contract: string;
}): void {
  if (semver.validRange(module.contract) === null) {
    throw coreError(
      'VLAB_ERR_MODULE_INVALID',
      `module ${module.name} declares contract range "${module.contract}", which is not a semver range`,
    );
  }
  if (!speaksContract(module.contract)) {
    throw coreError(
      'VLAB_ERR_MODULE_CONTRACT_MISMATCH',
      `module ${module.name} speaks contract ${module.contract}, but this @vlab/core implements contract ${CONTRACT_VERSION}`,
      {
        details: {
          module: module.name,
          moduleRange: module.contract,
          coreContract: CONTRACT_VERSION,
        },
      },
    );
  }
}
