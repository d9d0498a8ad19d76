import type { StandardSchemaV1 } from '@standard-schema/spec';
import { parseConfig } from './config.js';
import { assertSpeaksContract } from './contract-version.js';
import { coreError } from './errors/core-errors.js';
import type { Logger } from './logger.js';
import type { OsModule } from './os-module.js';
import type { Provisioner } from './provisioner.js';
import type { SecretResolver } from './secret.js';

/** What the manager hands `create`, besides the module's own config. @public */
export interface ModuleDeps {
  /** The module's logger (bound to its configured name). */
  readonly log: Logger;
  /** Resolves secret references in the module's config. */
  readonly secrets: SecretResolver;
}

/** The fields both kinds of module definition share. @public */
export interface ModuleDefinitionBase<Config, Instance> {
  /** The package's name for the module (`os-linux`); configs may name it. */
  readonly name: string;
  /** The package version, for logs and refusals. */
  readonly version: string;
  /** The semver range of contract versions it speaks (`^1.0.0`); checked when it is loaded. */
  readonly contract: string;
  /** Validates the module's config section; use `noConfig` when there is none. */
  readonly configSchema: StandardSchemaV1<unknown, Config>;
  /**
   * Makes one instance per configured module (not per computer). May check the environment
   * (a binary, a directory) and throw `VLAB_ERR_CONFIG_INVALID`; must not touch any machine.
   */
  create(config: Config, deps: ModuleDeps): Instance | Promise<Instance>;
}

/** What an OS module package default-exports. @public */
export interface OsModuleDefinition<Config = unknown>
  extends ModuleDefinitionBase<Config, OsModule> {
  /** Always `'os'`: set by {@link defineOsModule}, checked by {@link assertModuleDefinition}. */
  readonly kind: 'os';
}

/** What a provisioning module package default-exports. @public */
export interface ProvisionerDefinition<Config = unknown>
  extends ModuleDefinitionBase<Config, Provisioner> {
  /** Always `'provisioner'`: set by {@link defineProvisioner}, checked by {@link assertModuleDefinition}. */
  readonly kind: 'provisioner';
}

/** Either kind of module definition. @public */
export type ModuleDefinition = OsModuleDefinition<never> | ProvisionerDefinition<never>;

/**
 * Declares an OS module; default-export the result.
 * @returns A frozen copy of `definition` with `kind: 'os'`; nothing is validated until it is loaded.
 * @public
 */
export function defineOsModule<Config>(
  definition: ModuleDefinitionBase<Config, OsModule>,
): OsModuleDefinition<Config> {
  return Object.freeze({ ...definition, kind: 'os' as const });
}

/**
 * Declares a provisioning module; default-export the result.
 * @returns A frozen copy of `definition` with `kind: 'provisioner'`; nothing is validated until it is loaded.
 * @public
 */
export function defineProvisioner<Config>(
  definition: ModuleDefinitionBase<Config, Provisioner>,
): ProvisionerDefinition<Config> {
  return Object.freeze({ ...definition, kind: 'provisioner' as const });
}

const OS_OPERATIONS = [
  'postLoad',
  'reserve',
  'sanitize',
  'postReservation',
  'preCapture',
  'isResponding',
  'waitForResponse',
  'shutdown',
  'reboot',
  'readStamp',
] as const satisfies readonly (keyof OsModule)[];

const PROVISIONER_OPERATIONS = [
  'load',
  'capture',
  'powerOn',
  'powerOff',
  'powerCycle',
  'powerStatus',
  'nodeStatus',
  'imageExists',
  'imageSize',
  'listImages',
  'deleteImage',
] as const satisfies readonly (keyof Provisioner)[];

/** Optional operations of each contract: an instance may have them without declaring them. */
const OS_OPTIONAL_OPERATIONS = [
  'postCapture',
  'userConnected',
  'close',
] as const satisfies readonly (keyof OsModule)[];
const PROVISIONER_OPTIONAL_OPERATIONS = [
  'importImage',
  'release',
  'close',
] as const satisfies readonly (keyof Provisioner)[];

/**
 * The function-valued members of `instance` — own or inherited, below `Object.prototype`, data
 * properties with string keys (getters are not called) — that are neither operations of the
 * `kind` contract nor named in `instance.extensions`; and what is wrong with `extensions` itself.
 * Used by `instantiate…` and by the conformance kit.
 */
export function contractShapeProblems(instance: unknown, kind: 'os' | 'provisioner'): string[] {
  if (typeof instance !== 'object' || instance === null) return [];
  const known = new Set<string>(
    kind === 'os'
      ? [...OS_OPERATIONS, ...OS_OPTIONAL_OPERATIONS]
      : [...PROVISIONER_OPERATIONS, ...PROVISIONER_OPTIONAL_OPERATIONS],
  );
  const problems: string[] = [];
  const extensions: unknown = (instance as { extensions?: unknown }).extensions;
  let declared: readonly string[] = [];
  if (extensions !== undefined) {
    if (
      typeof extensions !== 'object' ||
      extensions === null ||
      Array.isArray(extensions) ||
      Object.values(extensions).some((description) => typeof description !== 'string')
    ) {
      problems.push('extensions is not an object of { name: description } strings');
    } else {
      declared = Object.keys(extensions);
      const clashing = declared.filter((name) => known.has(name));
      if (clashing.length > 0)
        problems.push(`extensions redeclares contract operations: ${clashing.join(', ')}`);
    }
  }
  const undeclared = new Set<string>();
  for (
    let holder: object | null = instance;
    holder !== null && holder !== Object.prototype;
    holder = Object.getPrototypeOf(holder) as object | null
  ) {
    for (const key of Object.getOwnPropertyNames(holder)) {
      if (key === 'constructor' || known.has(key) || declared.includes(key)) continue;
      const descriptor = Object.getOwnPropertyDescriptor(holder, key);
      if (typeof descriptor?.value === 'function') undeclared.add(key);
    }
  }
  if (undeclared.size > 0) {
    problems.push(
      `it has operations outside the contract that it does not declare in extensions: ${[...undeclared].join(', ')}`,
    );
  }
  return problems;
}

/**
 * Checks that `value` (a package's default export) is a module definition of the expected kind
 * that speaks this core's contract. Throws `VLAB_ERR_MODULE_INVALID` or
 * `VLAB_ERR_MODULE_CONTRACT_MISMATCH`.
 * @param value - What the package default-exports; anything.
 * @param kind - The kind the config expects there.
 * @param source - Names the package (or path) in the error message.
 * @public
 */
export function assertModuleDefinition<Kind extends 'os' | 'provisioner'>(
  value: unknown,
  kind: Kind,
  source: string,
): asserts value is Kind extends 'os'
  ? OsModuleDefinition<unknown>
  : ProvisionerDefinition<unknown> {
  const candidate = value as Partial<Record<string, unknown>> | null | undefined;
  const problems: string[] = [];
  if (typeof candidate !== 'object' || candidate === null)
    problems.push('its default export is not an object');
  else {
    if (candidate['kind'] !== kind)
      problems.push(`kind is ${String(candidate['kind'])}, expected ${kind}`);
    for (const key of ['name', 'version', 'contract'] as const) {
      if (typeof candidate[key] !== 'string') problems.push(`${key} is not a string`);
    }
    if (typeof candidate['create'] !== 'function') problems.push('create is not a function');
    const schema = candidate['configSchema'] as { '~standard'?: unknown } | undefined;
    if (typeof schema !== 'object' || schema === null || typeof schema['~standard'] !== 'object') {
      problems.push('configSchema is not a Standard Schema');
    }
  }
  if (problems.length > 0) {
    throw coreError(
      'VLAB_ERR_MODULE_INVALID',
      `${source} is not a valid ${kind} module: ${problems.join('; ')}`,
    );
  }
  assertSpeaksContract(candidate as { name: string; contract: string });
}

/**
 * Validates the config, creates the instance and checks it has every required operation and no
 * undeclared one — what the manager does for each module a config file names. Throws
 * `VLAB_ERR_MODULE_INVALID`, `VLAB_ERR_MODULE_CONTRACT_MISMATCH`, `VLAB_ERR_CONFIG_INVALID`, or
 * what `create` throws.
 *
 * @remarks
 * Since contract 1.1 an instance may offer operations beyond the contract only by declaring them
 * in its `extensions` (`{ name: description }`): every function-valued member, own or inherited
 * (a class's prototype methods too, `constructor` aside), that is neither a contract operation
 * (required or optional: `postCapture`, `userConnected`, `close`; for a provisioner `importImage`, `release`,
 * `close`) nor declared there is refused with `VLAB_ERR_MODULE_INVALID` naming each member. Keep
 * helpers in closures or `#private` methods, or declare them.
 * @param rawConfig - The module's config section as read from the file, before validation.
 * @public
 */
export async function instantiateOsModule<Config>(
  definition: OsModuleDefinition<Config>,
  rawConfig: unknown,
  deps: ModuleDeps,
): Promise<OsModule> {
  assertModuleDefinition(definition, 'os', definition.name);
  const config = await parseConfig(definition.configSchema, rawConfig, [
    'modules',
    definition.name,
    'config',
  ]);
  const instance = await definition.create(config, deps);
  assertOperations(instance, OS_OPERATIONS, definition.name, 'os');
  return instance;
}

/** The provisioner counterpart of {@link instantiateOsModule}. @public */
export async function instantiateProvisioner<Config>(
  definition: ProvisionerDefinition<Config>,
  rawConfig: unknown,
  deps: ModuleDeps,
): Promise<Provisioner> {
  assertModuleDefinition(definition, 'provisioner', definition.name);
  const config = await parseConfig(definition.configSchema, rawConfig, [
    'modules',
    definition.name,
    'config',
  ]);
  const instance = await definition.create(config, deps);
  assertOperations(instance, PROVISIONER_OPERATIONS, definition.name, 'provisioner');
  return instance;
}

function assertOperations(
  instance: unknown,
  operations: readonly string[],
  name: string,
  kind: 'os' | 'provisioner',
): void {
  const record = instance as Record<string, unknown> | null;
  const missing = operations.filter((op) => typeof record?.[op] !== 'function');
  if (missing.length > 0) {
    throw coreError(
      'VLAB_ERR_MODULE_INVALID',
      `module ${name} created an instance without ${missing.join(', ')}`,
    );
  }
  const problems = contractShapeProblems(instance, kind);
  if (problems.length > 0) {
    throw coreError(
      'VLAB_ERR_MODULE_INVALID',
      `module ${name} created an invalid instance: ${problems.join('; ')}`,
      { details: { problems } },
    );
  }
}
