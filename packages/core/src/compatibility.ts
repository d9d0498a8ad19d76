import { coreError } from './errors/core-errors.js';
import type { OsModule } from './os-module.js';
import type { CaptureMode, Provisioner } from './provisioner.js';

/** A request the manager is about to serve with one OS module and one provisioner. @public */
export type CompatibilityRequest =
  | { readonly operation: 'load'; readonly osFamily?: string | undefined }
  | {
      readonly operation: 'capture';
      readonly mode: CaptureMode;
      readonly osFamily?: string | undefined;
    };

/** The answer of {@link isCompatible}. @public */
export interface Compatibility {
  /** Whether the pair can serve the request: true exactly when `problems` is empty. */
  readonly ok: boolean;
  /** One sentence per missing capability; empty when `ok`. */
  readonly problems: readonly string[];
}

/**
 * Whether `os` and `provisioner` together can serve `request`, judged only from what they declare,
 * so the manager can refuse before touching a machine rather than fail half-way.
 * @param request - The operation to serve; `osFamily` is the image's, when the request knows it.
 * @returns `ok` and one problem sentence per mismatch; never throws.
 * @public
 */
export function isCompatible(
  os: OsModule,
  provisioner: Provisioner,
  request: CompatibilityRequest,
): Compatibility {
  const problems: string[] = [];
  const families = provisioner.capabilities.osFamilies;
  if (families !== 'any' && !families.includes(os.family)) {
    problems.push(
      `provisioner ${provisioner.name} does not handle the ${os.family} OS family of ${os.name}`,
    );
  }
  if (request.osFamily !== undefined && request.osFamily !== os.family) {
    problems.push(`the image is ${request.osFamily}, but OS module ${os.name} serves ${os.family}`);
  }
  if (request.operation === 'capture') {
    const feature = request.mode === 'checkpoint' ? 'checkpoint' : 'capture';
    if (!provisioner.capabilities.features.includes(feature)) {
      problems.push(`provisioner ${provisioner.name} does not declare ${feature}`);
    }
    const endState = provisioner.capabilities.captureEndState;
    if (!os.capabilities.endStates.includes(endState)) {
      problems.push(
        `provisioner ${provisioner.name} captures with end state "${endState}", which OS module ${os.name} does not support (it supports ${os.capabilities.endStates.join(', ')})`,
      );
    }
  }
  return { ok: problems.length === 0, problems };
}

/**
 * Throws `VLAB_ERR_CAPABILITY_MISSING` listing the problems when {@link isCompatible} says no.
 * @param computer - Names the computer in the error, when the request concerns one.
 * @public
 */
export function assertCompatible(
  os: OsModule,
  provisioner: Provisioner,
  request: CompatibilityRequest,
  computer?: string,
): void {
  const verdict = isCompatible(os, provisioner, request);
  if (!verdict.ok) {
    throw coreError(
      'VLAB_ERR_CAPABILITY_MISSING',
      `cannot ${request.operation}: ${verdict.problems.join('; ')}`,
      {
        computer,
        details: { problems: verdict.problems },
      },
    );
  }
}
