import { readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  assertModuleDefinition,
  CONTRACT_VERSION,
  coreError,
  isVlabError,
  type OsModuleDefinition,
  type ProvisionerDefinition,
  speaksContract,
  type VlabError,
} from '@vlab/core';
import { closestKey } from '../config/closest-key.js';
import { quoteText } from '../config/key-path.js';
import { managerError } from '../errors.js';

/** The two kinds of module a configuration names. @public */
export type ModuleKind = 'os' | 'provisioner';

/** The definition a module package of `Kind` default-exports. @public */
export type ModuleDefinitionOf<Kind extends ModuleKind> = Kind extends 'os'
  ? OsModuleDefinition<unknown>
  : ProvisionerDefinition<unknown>;

/** What {@link loadModule} may name in its errors. @public */
export interface LoadModuleOptions {
  /**
   * Where the configuration names the package, for messages: `osModules.linux.package`, best
   * with its place in the file (`osModules.linux.package at vlab.yaml:8:20`).
   */
  readonly configKey?: string | undefined;
}

const PACKAGE_NAME = /^(@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/;
/** The conditions an ESM `import` of the package matches, in Node's order of preference. */
const IMPORT_CONDITIONS = ['node', 'import', 'default'] as const;

/**
 * Loads a module package installed in `installDir` and checks its default export: a module
 * definition of `kind` that speaks this core's contract.
 *
 * @remarks
 * The package is looked up in `<installDir>/node_modules` and the `node_modules` of its parent
 * directories, as Node looks up a dependency of a file in `installDir` — never from the manager's
 * own location (the manager depends on no module package). Its entry is the `.` export for
 * `import` (conditions `node`, `import`, `default`) or, without an `exports` map, what
 * `require.resolve` finds from `installDir` (`main`, `index.js`); it is then imported as ESM.
 *
 * Throws `VLAB_ERR_MODULE_NOT_INSTALLED` (the message gives the `npm install --prefix` command),
 * `VLAB_ERR_MODULE_IMPORT_FAILED` (installed, but the import threw or the entry file is missing),
 * `VLAB_ERR_MODULE_INVALID` (no module definition of that kind), `VLAB_ERR_MODULE_CONTRACT_MISMATCH`
 * (names the package, its version, its contract range, `CONTRACT_VERSION`, and what to upgrade;
 * the error of `assertModuleDefinition` is its cause) or `VLAB_ERR_CONFIG_INVALID` (not an npm
 * package name).
 * @param packageName - The npm package (`@vlab/os-linux`); a path is refused.
 * @param kind - The kind the configuration expects there.
 * @param installDir - The directory the packages are installed in (absolute, or from the cwd).
 * @returns The package's default export, checked.
 * @public
 */
export async function loadModule<Kind extends ModuleKind>(
  packageName: string,
  kind: Kind,
  installDir: string,
  options: LoadModuleOptions = {},
): Promise<ModuleDefinitionOf<Kind>> {
  const from = options.configKey === undefined ? '' : ` (named by ${options.configKey})`;
  if (packageName.length > 214 || !PACKAGE_NAME.test(packageName)) {
    throw coreError(
      'VLAB_ERR_CONFIG_INVALID',
      `${quoteText(packageName)}${from} is not an npm package name (\`@scope/name\` or \`name\`, lower-case)`,
    );
  }
  const root = resolve(installDir);
  const install = installCommand(root, packageName);
  const what = kind === 'os' ? 'OS module' : 'provisioner';

  const packageDir = findPackageDir(root, packageName);
  if (packageDir === undefined) {
    const guess = closestKey(packageName, installedPackages(root));
    throw managerError(
      'VLAB_ERR_MODULE_NOT_INSTALLED',
      `the ${what} package ${packageName}${from} is not installed in ${root} (looked in its node_modules and those of its parent directories)${guess === undefined ? '' : `; ${guess} is installed: did you mean it?`}`,
      {
        hint: `Install it: ${install} (or fix the package name in the configuration).`,
        details: { package: packageName, installDir: root, installCommand: install, kind },
      },
    );
  }

  const failed = (why: string, cause?: unknown): VlabError =>
    managerError(
      'VLAB_ERR_MODULE_IMPORT_FAILED',
      `the ${what} package ${packageName}${from}, installed in ${packageDir}, could not be imported: ${why}`,
      {
        hint: `Reinstall it: ${install}; if it still fails, report the error (the cause) to the package's authors.`,
        cause,
        details: { package: packageName, packageDir, installDir: root, installCommand: install },
      },
    );

  let manifest: { version?: unknown; exports?: unknown };
  try {
    manifest = JSON.parse(await readFile(join(packageDir, 'package.json'), 'utf8')) as {
      version?: unknown;
      exports?: unknown;
    };
  } catch (error) {
    throw failed('its package.json cannot be read as JSON', error);
  }

  let entry: string;
  if (manifest.exports !== undefined && manifest.exports !== null) {
    const target = exportTarget(manifest.exports);
    if (target === undefined) {
      throw coreError(
        'VLAB_ERR_MODULE_INVALID',
        `package ${packageName}${from} is not a valid ${kind} module: its package.json exports nothing an import of "${packageName}" can load (exports["."] with the condition node, import or default)`,
      );
    }
    if (!target.startsWith('./') || target.split(/[\\/]/).some((part) => part === '..')) {
      throw coreError(
        'VLAB_ERR_MODULE_INVALID',
        `package ${packageName}${from} is not a valid ${kind} module: its export ${quoteText(target)} does not stay inside the package`,
      );
    }
    entry = join(packageDir, target);
  } else {
    try {
      entry = createRequire(join(root, 'package.json')).resolve(packageName);
    } catch (error) {
      throw failed('it has no exports map and no main file or index.js that can be found', error);
    }
  }
  if (!hasFile(entry)) throw failed(`its entry file ${entry} is missing`);

  let namespace: Record<string, unknown>;
  try {
    namespace = (await import(/* @vite-ignore */ pathToFileURL(entry).href)) as Record<
      string,
      unknown
    >;
  } catch (error) {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw failed(firstLine(message), error);
  }

  if (!('default' in namespace)) {
    const named = Object.keys(namespace).slice(0, 10);
    throw coreError(
      'VLAB_ERR_MODULE_INVALID',
      `package ${packageName}${from} is not a valid ${kind} module: it has no default export${named.length === 0 ? '' : ` (it exports ${named.join(', ')})`}; it must default-export the result of ${kind === 'os' ? 'defineOsModule' : 'defineProvisioner'}`,
    );
  }
  const definition = namespace['default'];
  try {
    assertModuleDefinition(definition, kind, `package ${packageName}${from}`);
  } catch (error) {
    if (isVlabError(error, 'VLAB_ERR_MODULE_CONTRACT_MISMATCH')) {
      const module = definition as { name: string; version: string; contract: string };
      throw contractMismatch(error, {
        packageName,
        configKey: options.configKey,
        name: module.name,
        version: module.version,
        range: module.contract,
        install,
        installDir: root,
      });
    }
    throw error;
  }
  return definition as ModuleDefinitionOf<Kind>;
}

/**
 * The `npm install` command that installs `packageName` into `installDir`, each word quoted for a
 * POSIX shell when it needs to be.
 * @public
 */
export function installCommand(installDir: string, packageName: string): string {
  return `npm install --prefix ${shellWord(installDir)} ${shellWord(packageName)}`;
}

function shellWord(word: string): string {
  return /^[A-Za-z0-9_./@:+=,-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

function firstLine(text: string): string {
  const line = text.split('\n', 1)[0] ?? '';
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

/** `<dir>/node_modules/<name>` for `dir` = `root` and each parent, the first that has a package.json. */
function findPackageDir(root: string, packageName: string): string | undefined {
  for (let dir = root; ; dir = dirname(dir)) {
    // Node skips a directory that is itself named node_modules when it walks up.
    if (!dir.endsWith(`${sep}node_modules`)) {
      const candidate = join(dir, 'node_modules', packageName);
      if (hasFile(join(candidate, 'package.json'))) return candidate;
    }
    if (dirname(dir) === dir) return undefined;
  }
}

function hasFile(path: string): boolean {
  try {
    // Synchronous on purpose: a handful of stat calls while the manager starts.
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The packages in `<root>/node_modules` (scoped ones as `@scope/name`), for a "did you mean". */
function installedPackages(root: string): string[] {
  const dir = join(root, 'node_modules');
  const names: string[] = [];
  try {
    for (const entry of readdirSync(dir)) {
      if (entry.startsWith('.')) continue;
      if (entry.startsWith('@')) {
        for (const inner of readdirSync(join(dir, entry))) names.push(`${entry}/${inner}`);
      } else names.push(entry);
      if (names.length > 5000) break;
    }
  } catch {
    // No node_modules: nothing to suggest.
  }
  return names;
}

/**
 * The target of the `.` export for an ESM import, following Node's rules for conditions: an
 * object whose keys start with `.` maps subpaths; otherwise a string, an array (first that
 * resolves) or an object of conditions (first matching key, in the object's order).
 */
function exportTarget(exports: unknown): string | undefined {
  let root: unknown = exports;
  if (typeof exports === 'object' && exports !== null && !Array.isArray(exports)) {
    const keys = Object.keys(exports);
    if (keys.some((key) => key.startsWith('.'))) root = (exports as Record<string, unknown>)['.'];
  }
  const pick = (value: unknown, depth: number): string | undefined => {
    if (depth > 20) return undefined;
    if (typeof value === 'string') return value;
    if (Array.isArray(value)) {
      for (const item of value) {
        const found = pick(item, depth + 1);
        if (found !== undefined) return found;
      }
      return undefined;
    }
    if (typeof value === 'object' && value !== null) {
      for (const [condition, target] of Object.entries(value)) {
        if (!(IMPORT_CONDITIONS as readonly string[]).includes(condition)) continue;
        const found = pick(target, depth + 1);
        if (found !== undefined) return found;
      }
    }
    return undefined;
  };
  return pick(root, 0);
}

/** Which side is behind, for a module whose contract range excludes {@link CONTRACT_VERSION}. */
type Behind = 'module' | 'manager' | 'unknown';

/**
 * Whether every version the range accepts is older than this core's contract (the module is
 * behind), newer (the manager is), or neither can be told (a range with a gap around it). The
 * versions tried are those the range names, their next patch, and 0.0.0.
 */
function whoIsBehind(range: string): Behind {
  const tried = new Set<string>(['0.0.0']);
  for (const match of range.matchAll(/(\d+)(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?/g)) {
    const parts = [match[1], match[2], match[3]].map((part) =>
      part === undefined || /[xX*]/.test(part) ? 0 : Number(part),
    ) as [number, number, number];
    tried.add(parts.join('.'));
    tried.add([parts[0], parts[1], parts[2] + 1].join('.'));
  }
  const accepted = [...tried].filter((version) => speaksContract(range, version));
  if (accepted.length === 0) return 'unknown';
  const core = CONTRACT_VERSION.split('.').map(Number);
  const compare = (version: string): number => {
    const parts = version.split('.').map(Number);
    for (let i = 0; i < 3; i += 1) {
      const difference = (parts[i] ?? 0) - (core[i] ?? 0);
      if (difference !== 0) return difference;
    }
    return 0;
  };
  if (accepted.every((version) => compare(version) < 0)) return 'module';
  if (accepted.every((version) => compare(version) > 0)) return 'manager';
  return 'unknown';
}

function contractMismatch(
  original: VlabError,
  module: {
    readonly packageName: string;
    readonly configKey: string | undefined;
    readonly name: string;
    readonly version: string;
    readonly range: string;
    readonly install: string;
    readonly installDir: string;
  },
): VlabError {
  const behind = whoIsBehind(module.range);
  const upgradeModule = `npm install --prefix ${shellWord(module.installDir)} ${shellWord(`${module.packageName}@latest`)}`;
  const { summaryTail, hint } =
    behind === 'module'
      ? {
          summaryTail: `the module is older than this contract: upgrade ${module.packageName} to a release built for contract ${CONTRACT_VERSION}`,
          hint: `Upgrade the module: ${upgradeModule} (check its changelog for a release speaking contract ${CONTRACT_VERSION}), or run a manager whose @vlab/core implements a contract in ${module.range}.`,
        }
      : behind === 'manager'
        ? {
            summaryTail: `the module needs a newer contract: upgrade the manager (@vlab/manager and its @vlab/core) to a release implementing a contract in ${module.range}`,
            hint: `Upgrade the manager (@vlab/manager, which brings its @vlab/core) to a release whose contract is in ${module.range}, or install a release of ${module.packageName} built for contract ${CONTRACT_VERSION} (npm install --prefix ${shellWord(module.installDir)} ${module.packageName}@<version>).`,
          }
        : {
            summaryTail: `upgrade ${module.packageName} or the manager so that the module's range includes the manager's contract`,
            hint: `Install a release of ${module.packageName} built for contract ${CONTRACT_VERSION} (${upgradeModule}), or a manager whose @vlab/core implements a contract in ${module.range}.`,
          };
  return coreError(
    'VLAB_ERR_MODULE_CONTRACT_MISMATCH',
    `package ${module.packageName} ${module.version} (module ${module.name}${module.configKey === undefined ? '' : `, named by ${module.configKey}`}) speaks contract ${module.range}, but this manager's @vlab/core implements contract ${CONTRACT_VERSION} (CONTRACT_VERSION): ${summaryTail}`,
    {
      hint,
      cause: original,
      details: {
        ...original.details,
        package: module.packageName,
        version: module.version,
        moduleRange: module.range,
        coreContract: CONTRACT_VERSION,
        upgrade: behind,
      },
    },
  );
}
