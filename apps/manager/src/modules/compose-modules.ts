import {
  instantiateOsModule,
  instantiateProvisioner,
  isVlabError,
  type Logger,
  type OsModule,
  type Provisioner,
  type SecretResolver,
} from '@vlab/core';
import { type ConfigSource, locateModuleSettingsError } from '../config/config-file.js';
import { formatKeyPath, type KeyPath } from '../config/key-path.js';
import type { ManagerConfig } from '../config/manager-config.js';
import { managerError } from '../errors.js';
import { loadModule, type ModuleDefinitionOf, type ModuleKind } from './module-loader.js';

/** What {@link composeModules} hands the modules. @public */
export interface ComposeDeps {
  /** The manager's logger; each module gets a child bound to its name and configuration key. */
  readonly log: Logger;
  /** Resolves the secret references in module settings. */
  readonly secrets: SecretResolver;
}

/** A module package as loaded: what its definition says of itself and where it came from. @public */
export interface LoadedModuleInfo {
  /** The module's name, from its definition (`os-linux`). */
  readonly name: string;
  /** The module's version, from its definition. */
  readonly version: string;
  /** The contract range it speaks. */
  readonly contract: string;
  /** The npm package it was loaded from. */
  readonly package: string;
}

/** The modules a configuration names, created. @public */
export interface ComposedModules {
  /** The OS module of each OS family (the keys of `osModules`). */
  readonly osModules: ReadonlyMap<string, OsModule>;
  /** Each provisioner instance by its name (the keys of `provisioners`). */
  readonly provisioners: ReadonlyMap<string, Provisioner>;
  /** What was loaded for each OS family and provisioner instance. */
  readonly definitions: {
    /** By OS family. */
    readonly osModules: ReadonlyMap<string, LoadedModuleInfo>;
    /** By provisioner instance. */
    readonly provisioners: ReadonlyMap<string, LoadedModuleInfo>;
  };
  /**
   * Calls `close` (contract 1.1, optional) of every instance, provisioners first, in reverse
   * order of creation. A failing close is logged (warn) and does not stop the others.
   */
  close(): Promise<void>;
}

interface Planned<Kind extends ModuleKind> {
  readonly kind: Kind;
  /** The key under `osModules` or `provisioners`. */
  readonly key: string;
  readonly section: 'osModules' | 'provisioners';
  readonly packageName: string;
  readonly settings: unknown;
}

/**
 * Loads every OS module and provisioner the configuration names (from `config.installDir`, see
 * `loadModule`), then creates each with its settings through core's `instantiateOsModule` /
 * `instantiateProvisioner`: OS modules in file order, then provisioner instances in file order.
 *
 * @remarks
 * Every package is loaded and checked before any instance is created, so a missing package or a
 * contract mismatch creates nothing. A settings error is pointed at the file
 * (`locateModuleSettingsError`: `vlab.yaml:14:28: provisioners.bm.settings.timeouts.powerMs: …`).
 * When creating an instance fails, those already created are closed (`close?.()`) before the
 * error is thrown; a non-vlab error from a module's `create` becomes `VLAB_ERR_MODULE_START_FAILED`
 * (cause: the original).
 * @param config - The validated configuration, as `readManagerConfig` returns it.
 * @param source - Its file, to point errors at.
 * @public
 */
export async function composeModules(
  config: ManagerConfig,
  source: ConfigSource,
  deps: ComposeDeps,
): Promise<ComposedModules> {
  const plan: Planned<ModuleKind>[] = [
    ...Object.entries(config.osModules).map(([key, entry]) => ({
      kind: 'os' as const,
      key,
      section: 'osModules' as const,
      packageName: entry.package,
      // No `settings` in the file means none given: the module's schema applies its defaults to {}.
      settings: entry.settings ?? {},
    })),
    ...Object.entries(config.provisioners).map(([key, entry]) => ({
      kind: 'provisioner' as const,
      key,
      section: 'provisioners' as const,
      packageName: entry.package,
      // No `settings` in the file means none given: the module's schema applies its defaults to {}.
      settings: entry.settings ?? {},
    })),
  ];

  // Load and check every package first (one import per package and kind).
  const loaded = new Map<string, ModuleDefinitionOf<ModuleKind>>();
  const definitionOf = new Map<Planned<ModuleKind>, ModuleDefinitionOf<ModuleKind>>();
  for (const item of plan) {
    const cacheKey = `${item.kind}\u0000${item.packageName}`;
    let definition = loaded.get(cacheKey);
    if (definition === undefined) {
      const packagePath: KeyPath = [item.section, item.key, 'package'];
      const at = source.locate(packagePath);
      definition = await loadModule(item.packageName, item.kind, config.installDir, {
        configKey: `${formatKeyPath(packagePath)} at ${source.file}:${at.line}:${at.column}`,
      });
      loaded.set(cacheKey, definition);
    }
    definitionOf.set(item, definition);
  }

  const osModules = new Map<string, OsModule>();
  const provisioners = new Map<string, Provisioner>();
  const osInfo = new Map<string, LoadedModuleInfo>();
  const provisionerInfo = new Map<string, LoadedModuleInfo>();
  const created: { readonly label: string; readonly instance: OsModule | Provisioner }[] = [];

  const closeAll = async (): Promise<void> => {
    for (const { label, instance } of [...created].reverse()) {
      try {
        await instance.close?.();
      } catch (error) {
        deps.log.warn('module close failed', {
          module: label,
          error: error instanceof Error ? error : String(error),
        });
      }
    }
  };

  for (const item of plan) {
    const definition = definitionOf.get(item) as ModuleDefinitionOf<ModuleKind>;
    const label = `${item.section}.${item.key}`;
    const log = deps.log.child({
      module: definition.name,
      ...(item.kind === 'os' ? { osFamily: item.key } : { provisioner: item.key }),
    });
    const moduleDeps = { log, secrets: deps.secrets };
    try {
      if (definition.kind === 'os') {
        const instance = await instantiateOsModule(definition, item.settings, moduleDeps);
        created.push({ label, instance });
        osModules.set(item.key, instance);
      } else {
        const instance = await instantiateProvisioner(definition, item.settings, moduleDeps);
        created.push({ label, instance });
        provisioners.set(item.key, instance);
      }
    } catch (error) {
      await closeAll();
      throw startError(error, source, item, definition);
    }
    const info: LoadedModuleInfo = {
      name: definition.name,
      version: definition.version,
      contract: definition.contract,
      package: item.packageName,
    };
    (item.kind === 'os' ? osInfo : provisionerInfo).set(item.key, info);
    log.info('module created', { package: item.packageName, version: definition.version });
  }

  return {
    osModules,
    provisioners,
    definitions: { osModules: osInfo, provisioners: provisionerInfo },
    close: closeAll,
  };
}

/** The error to throw when creating `item` failed with `error`. */
function startError(
  error: unknown,
  source: ConfigSource,
  item: Planned<ModuleKind>,
  definition: ModuleDefinitionOf<ModuleKind>,
): unknown {
  const settingsPath: KeyPath = [item.section, item.key, 'settings'];
  if (isVlabError(error)) return locateModuleSettingsError(error, source, settingsPath);
  const at = source.locate([item.section, item.key], 'key');
  const message =
    error instanceof Error ? `${error.name}: ${error.message.split('\n', 1)[0]}` : String(error);
  return managerError(
    'VLAB_ERR_MODULE_START_FAILED',
    `module ${definition.name} ${definition.version} (package ${item.packageName}, ${item.section}.${item.key} at ${source.file}:${at.line}:${at.column}) threw while creating its instance: ${message}`,
    { cause: error, details: { module: definition.name, package: item.packageName } },
  );
}
