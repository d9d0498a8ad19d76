import { describe, it } from 'vitest';
import type { ConformanceCheck } from './conformance-check.js';
import { type OsModuleSubject, osModuleChecks } from './os-module-checks.js';
import { type ProvisionerSubject, provisionerChecks } from './provisioner-checks.js';

/** Options of the `describe…Conformance` helpers. @public */
export interface DescribeConformanceOptions {
  /** The vitest timeout of each check. Default: 60000 ms. */
  readonly testTimeoutMs?: number;
}

/**
 * Registers one vitest test per OS module check, in a `describe` block named `title`; a check the
 * harness cannot observe (`ConformanceCheck.skip`) is registered as skipped, its reason in the
 * title. Call it in a vitest test file.
 * @param subject - The module and the harness of the machine to check it on.
 * @example
 * ```ts
 * describeOsModuleConformance('my-os', { os, harness: lab.harness('node1') });
 * ```
 * @public
 */
export function describeOsModuleConformance(
  title: string,
  subject: OsModuleSubject,
  options: DescribeConformanceOptions = {},
): void {
  register(title, osModuleChecks(subject), options);
}

/** Registers one vitest test per provisioner check, in a `describe` block named `title`. @public */
export function describeProvisionerConformance(
  title: string,
  subject: ProvisionerSubject,
  options: DescribeConformanceOptions = {},
): void {
  register(title, provisionerChecks(subject), options);
}

function register(
  title: string,
  checks: readonly ConformanceCheck[],
  options: DescribeConformanceOptions,
): void {
  describe(title, () => {
    for (const check of checks) {
      // A check the harness cannot observe shows as skipped, with why: never silently missing.
      if (check.skip !== undefined) it.skip(`${check.id}: ${check.title} — ${check.skip}`);
      else it(`${check.id}: ${check.title}`, () => check.run(), options.testTimeoutMs ?? 60_000);
    }
  });
}
