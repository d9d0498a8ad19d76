import { coreError } from './errors/core-errors.js';
import type { OsModule } from './os-module.js';
import type { CaptureMode, Provisioner } from './provisioner.js';

/**
 * A request the manager is about to serve with one OS module and one provisioner.
 *
 * @remarks
 * `osFamily` is the image's (`StoredImage.osFamily`, `ImageRef.osFamily`), when the request
 * knows it. `shell` (contract 1.1) is the command language of the communicator the manager built
 * for the computer (`Communicator.shell`): the manager passes it once it has built that
 * communicator, before the first operation on the computer (a load, or a capture); without it the
 * shell is not checked.
 * @public
 */
export type CompatibilityRequest =
  | {
      readonly operation: 'load';
      readonly osFamily?: string | undefined;
      readonly shell?: 'posix' | 'powershell' | undefined;
    }
  | {
      readonly operation: 'capture';
      readonly mode: CaptureMode;
      readonly osFamily?: string | undefined;
      readonly shell?: 'posix' | 'powershell' | undefined;
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
 *
 * @remarks
 * Trusted first contact (contract 1.1): the provisioner's `capabilities.osFamilies` are the
 * families whose first contact it can arrange, so a pair is refused when the OS module's `family`
 * is not among them (`'any'` accepts every family). An OS module that declares no family (its
 * `family` missing or empty: only possible for a module that does not follow its type) is
 * compatible only with a provisioner declaring `'any'`: a provisioner that names families has not
 * said it can vouch for an unknown one. When `request.shell` is given and the OS module declares
 * its `shell`, a different shell is refused too; an undeclared shell is not checked. An OS module
 * that lacks a feature the provisioner lists in `capabilities.requiredOsFeatures` is refused.
 * @param request - The operation to serve; `osFamily` is the image's and `shell` the computer's
 *   communicator's, when the request knows them.
 * @returns `ok` and one problem sentence per mismatch, each naming the modules concerned; never
 *   throws.
 * @public
 */
export function isCompatible(
  os: OsModule,
  provisioner: Provisioner,
  request: CompatibilityRequest,
): Compatibility {
  const problems: string[] = [];
  const families = provisioner.capabilities.osFamilies;
  const family: unknown = os.family;
  const declared = typeof family === 'string' && family !== '' ? family : undefined;
  if (families !== 'any') {
    const named = Array.isArray(families) ? families.join(', ') : String(families);
    if (declared === undefined) {
      problems.push(
        `OS module ${os.name} declares no OS family, and provisioner ${provisioner.name} can arrange a trusted first contact only for the families it names (${named}), not for an unknown one`,
      );
    } else if (!Array.isArray(families) || !families.includes(declared)) {
      problems.push(
        `provisioner ${provisioner.name} cannot arrange a trusted first contact with the ${declared} OS family of OS module ${os.name} (its osFamilies: ${named})`,
      );
    }
  }
  if (request.osFamily !== undefined && request.osFamily !== declared) {
    problems.push(
      `the image is ${request.osFamily}, but OS module ${os.name} serves ${declared ?? 'no declared OS family'}`,
    );
  }
  if (request.shell !== undefined && os.shell !== undefined && request.shell !== os.shell) {
    problems.push(
      `OS module ${os.name} needs a ${os.shell} communicator, but the computer's communicator speaks ${request.shell}`,
    );
  }
  for (const feature of provisioner.capabilities.requiredOsFeatures ?? []) {
    if (!os.capabilities.features.includes(feature)) {
      problems.push(
        `provisioner ${provisioner.name} needs OS modules with the ${feature} feature, which OS module ${os.name} does not declare`,
      );
    }
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
