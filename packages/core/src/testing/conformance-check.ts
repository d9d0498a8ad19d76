import { contractShapeProblems } from '../define.js';
import { CORE_ERROR_CODES } from '../errors/core-errors.js';
import { isVlabError } from '../errors/vlab-error.js';
import { keepProcessAlive } from '../keep-alive.js';
import type { OsFeature, OsModule } from '../os-module.js';
import type { Provisioner, ProvisionerFeature } from '../provisioner.js';
import type { ConformanceHarness } from './harness.js';
import { findSecret, leaksOf, redactSecrets } from './secret-search.js';

/** One contract rule the kit checks; `run` rejects with a {@link ConformanceFailure} when the module breaks it. @public */
export interface ConformanceCheck {
  /** Stable id, `os/…` or `provisioner/…`. */
  readonly id: string;
  /** What the rule says, as a test title. */
  readonly title: string;
  /**
   * Set when the check cannot run here, saying why (the harness cannot observe what it needs, the
   * module does not declare the feature); `run` then resolves at once. Runners show the check as
   * skipped with this reason, never drop it.
   */
  readonly skip?: string | undefined;
  /**
   * Drives the module on the harness's machine (resetting it first where the rule needs a machine)
   * and checks the rule; may leave the machine in any state. Also rejects when the module threw an error without a known `VLAB_ERR_` code or
   * logged the revealed value of a secret in play. Keeps the process alive until it settles, so
   * checks run under plain `node` as under vitest.
   */
  run(): Promise<void>;
}

/** Options shared by the kit's check sets. @public */
export interface ConformanceOptions {
  /** How soon an operation must settle after its AbortSignal fires. Default: 2000 ms. */
  readonly abortBoundMs?: number;
  /** The deadline of each operation the kit runs. Default: 30000 ms. */
  readonly operationTimeoutMs?: number;
  /** Error codes of the module's own package, besides the core codes. */
  readonly knownErrorCodes?: readonly string[];
}

/** The message of a broken contract rule, naming the check. @public */
export class ConformanceFailure extends Error {
  /** The id of the broken check (`os/post-load-stamp`). */
  readonly checkId: string;
  /**
   * A failure of the check `checkId`, with the message `[<checkId>] <message>`.
   * @param checkId - The id of the broken check; the message is prefixed with it in brackets.
   * @param message - What the module did wrong.
   */
  constructor(checkId: string, message: string) {
    super(`[${checkId}] ${message}`);
    this.name = 'ConformanceFailure';
    this.checkId = checkId;
  }
}

export interface ResolvedOptions {
  readonly abortBoundMs: number;
  readonly operationTimeoutMs: number;
  readonly knownErrorCodes: ReadonlySet<string>;
}

export function resolveOptions(options: ConformanceOptions = {}): ResolvedOptions {
  return {
    abortBoundMs: options.abortBoundMs ?? 2000,
    operationTimeoutMs: options.operationTimeoutMs ?? 30_000,
    knownErrorCodes: new Set([
      ...Object.keys(CORE_ERROR_CODES),
      ...(options.knownErrorCodes ?? []),
    ]),
  };
}

/**
 * Builds checks: each run fails on a thrown uncoded error, on a secret in the logs or in a thrown
 * error, and never prints a secret in its own failure message. With `skip`, the check is reported
 * as skipped for that reason and `body` never runs.
 */
export function makeCheck(
  id: string,
  title: string,
  harness: ConformanceHarness,
  options: ResolvedOptions,
  body: (fail: (message: string) => never) => Promise<void>,
  skip?: string,
): ConformanceCheck {
  const fail = (message: string): never => {
    throw new ConformanceFailure(id, redactSecrets(message, harness.secrets()));
  };
  return {
    id,
    title,
    skip,
    async run() {
      if (skip !== undefined) return;
      const firstLog = harness.logs().length;
      const firstLeak = leaksOf(harness).length;
      const assertNoLeak = (): void => {
        const leak = leaksOf(harness)[firstLeak];
        if (leak !== undefined) fail(leak);
      };
      // The module's operations may wait only on their (unref'd) deadlines, on a stalled machine
      // for one: a plain `node` process must not exit in the middle of a check.
      const release = keepProcessAlive();
      try {
        await body(fail);
      } catch (error) {
        // A leaked secret is the graver fault: report it even when the check failed otherwise.
        assertNoSecretLogged(harness, firstLog, fail);
        assertNoLeak();
        if (error instanceof ConformanceFailure) throw error;
        assertNoSecretIn(error, harness, fail, 'an error an operation threw');
        assertKnownError(error, options, fail, 'an operation');
        fail(`an operation failed unexpectedly: ${(error as Error).message}`);
      } finally {
        release();
      }
      assertNoSecretLogged(harness, firstLog, fail);
      assertNoLeak();
    },
  };
}

/**
 * Fails when `value` (an error with its cause chain, a command, a file) holds the revealed value
 * of a secret in play, naming the secret by its label only.
 */
export function assertNoSecretIn(
  value: unknown,
  harness: ConformanceHarness,
  fail: (message: string) => never,
  what: string,
): void {
  const secret = findSecret(value, harness.secrets());
  if (secret !== undefined) fail(`${what} contains the value of the secret "${secret.label}"`);
}

/** Fails unless `error` is a vlab error with a known code. */
export function assertKnownError(
  error: unknown,
  options: ResolvedOptions,
  fail: (message: string) => never,
  what: string,
): void {
  if (!isVlabError(error)) {
    fail(
      `${what} threw an error without a VLAB_ERR_ code: ${String((error as Error)?.message ?? error)}`,
    );
  }
  if (!options.knownErrorCodes.has(error.code)) {
    fail(
      `${what} threw ${error.code}, which is neither a core code nor one of the module's knownErrorCodes`,
    );
  }
}

/** Fails when any log record since `from` contains the revealed value of a secret in play. */
export function assertNoSecretLogged(
  harness: ConformanceHarness,
  from: number,
  fail: (message: string) => never,
): void {
  const records = harness.logs();
  for (let index = from; index < records.length; index += 1) {
    const record = records[index];
    const text = JSON.stringify(record);
    for (const secret of harness.secrets()) {
      const value = secret.reveal();
      if (value.length > 0 && text.includes(value)) {
        fail(
          `a log record (${record?.level} "${record?.message}") contains the value of the secret "${secret.label}"`,
        );
      }
    }
  }
}

/**
 * Runs `start(signal)`, aborts it after `afterMs`, and fails unless it settles within the bound;
 * returns how it settled.
 */
export async function abortAndMeasure(
  start: (signal: AbortSignal) => Promise<unknown>,
  afterMs: number,
  boundMs: number,
  reason: unknown,
): Promise<{
  settled: boolean;
  error: unknown;
  rejected: boolean;
  msAfterAbort: number;
  /** Settles when the operation does; the caller waits for it (bounded) before the next check. */
  work: Promise<void>;
}> {
  const controller = new AbortController();
  let rejected = false;
  let error: unknown;
  const work = start(controller.signal).then(
    () => {},
    (e: unknown) => {
      rejected = true;
      error = e;
    },
  );
  await new Promise((resolve) => setTimeout(resolve, afterMs));
  const abortedAt = performance.now();
  controller.abort(reason);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const settled = await Promise.race([
    work.then(() => true),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), boundMs);
    }),
  ]);
  clearTimeout(timer);
  return { settled, error, rejected, msAfterAbort: performance.now() - abortedAt, work };
}

/** A lowercase OS family name, as `OsModule.family` and `ProvisionerCapabilities.osFamilies` hold. */
const OS_FAMILY_NAME = /^[a-z][a-z0-9_-]*$/;

/** The `os/declares-family` check's body: `family` is a lowercase name, `shell` (if any) a known one. */
export function expectWellFormedFamily(
  os: { readonly family?: unknown; readonly shell?: unknown },
  fail: (message: string) => never,
): void {
  if (typeof os.family !== 'string' || !OS_FAMILY_NAME.test(os.family))
    fail(`family is ${JSON.stringify(os.family)}; expected a lowercase OS family name ('linux')`);
  if (os.shell !== undefined && os.shell !== 'posix' && os.shell !== 'powershell')
    fail(`shell is ${JSON.stringify(os.shell)}; expected 'posix' or 'powershell' (or none)`);
}

/**
 * The `provisioner/declares-os-families` check's body: `capabilities.osFamilies` is `'any'` or a
 * non-empty array of lowercase OS family names.
 */
export function expectWellFormedOsFamilies(
  osFamilies: unknown,
  fail: (message: string) => never,
): void {
  if (osFamilies === 'any') return;
  const shown = JSON.stringify(osFamilies);
  if (!Array.isArray(osFamilies) || osFamilies.length === 0)
    fail(
      `capabilities.osFamilies is ${shown}; expected 'any' or a non-empty array of lowercase OS family names`,
    );
  const bad = (osFamilies as unknown[]).filter(
    (family) => typeof family !== 'string' || !OS_FAMILY_NAME.test(family),
  );
  if (bad.length > 0)
    fail(
      `capabilities.osFamilies is ${shown}; ${bad.map((b) => JSON.stringify(b)).join(', ')} is not a lowercase OS family name`,
    );
}

/** Every OS feature, and the optional operation each one promises (if any). */
const OS_FEATURE_OPERATIONS = {
  postCapture: 'postCapture',
  passwordLogin: undefined,
  adminUsers: undefined,
  firewall: undefined,
  userConnected: 'userConnected',
  identityDisk: undefined,
} as const satisfies Record<OsFeature, keyof OsModule | undefined>;

/** Every provisioner feature, and the optional operation each one promises (if any). */
const PROVISIONER_FEATURE_OPERATIONS = {
  capture: undefined,
  checkpoint: undefined,
  powerCycle: undefined,
  imageSize: undefined,
  deleteImage: undefined,
  importImage: 'importImage',
  release: 'release',
} as const satisfies Record<ProvisionerFeature, keyof Provisioner | undefined>;

/**
 * The `declares-features` check's body: every declared feature is one the contract knows, each
 * feature that promises an optional operation comes with it, and each optional operation the
 * instance has is declared as its feature — so the manager, which goes by the declaration, neither
 * calls a missing operation nor ignores a present one.
 */
export function expectFeaturesMatchOperations(
  instance: { readonly capabilities: { readonly features: readonly string[] } },
  kind: 'os' | 'provisioner',
  fail: (message: string) => never,
): void {
  const table: Record<string, string | undefined> =
    kind === 'os' ? OS_FEATURE_OPERATIONS : PROVISIONER_FEATURE_OPERATIONS;
  const features = instance.capabilities.features;
  const unknown = features.filter((feature) => !Object.hasOwn(table, feature));
  if (unknown.length > 0)
    fail(`capabilities.features names features the contract does not know: ${unknown.join(', ')}`);
  const has = (operation: string): boolean =>
    typeof (instance as unknown as Record<string, unknown>)[operation] === 'function';
  for (const [feature, operation] of Object.entries(table)) {
    if (operation === undefined) continue;
    if (features.includes(feature) && !has(operation))
      fail(`it declares the ${feature} feature but has no ${operation} operation`);
    if (!features.includes(feature) && has(operation))
      fail(
        `it has a ${operation} operation but does not declare the ${feature} feature, so the manager never calls it`,
      );
  }
}

/** The OS features `requiredOsFeatures` may name. */
export function isOsFeature(value: unknown): value is OsFeature {
  return typeof value === 'string' && Object.hasOwn(OS_FEATURE_OPERATIONS, value);
}

/** The `declared-extensions` check's body: the instance has no undeclared operation. */
export function expectDeclaredExtensions(
  instance: object,
  kind: 'os' | 'provisioner',
  fail: (message: string) => never,
): void {
  const problems = contractShapeProblems(instance, kind);
  if (problems.length > 0) fail(problems.join('; '));
}

/** The `close` check's tail: `close` (when there) resolves, and a second call does not throw. */
export async function expectCloseIdempotent(
  instance: { close?(): Promise<void> },
  options: ResolvedOptions,
  fail: (message: string) => never,
): Promise<void> {
  if (instance.close === undefined) return;
  await instance.close();
  try {
    await instance.close();
  } catch (error) {
    assertKnownError(error, options, fail, 'a second close');
    fail(`a second close threw ${(error as { code: string }).code}; close must be idempotent`);
  }
}
