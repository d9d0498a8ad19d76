/**
 * What `pnpm new-module` writes, and the documentation blocks that show it.
 *
 * A new module package is rendered from the templates under `templates/<kind>/` (real, Biome-clean
 * source files written for the names `os-example` and `provisioner-example`) and from the
 * conventions of the workspace: versions of the tools and of zod from the workspace's own
 * manifests, the peer range on `@vlab/core` from the existing module packages. Nothing is
 * downloaded and no dependency is new, so `pnpm install --offline` installs it.
 *
 * The same templates are printed in the documentation (packages/core/README.md,
 * docs/writing-a-module.md) between markers:
 *
 *   <!-- new-module:start provisioner src/index.ts as provisioner-tiny -->
 *   ```ts
 *   (the file the scaffold writes for provisioner-tiny, formatted by Biome)
 *   ```
 *   <!-- new-module:end -->
 *
 * `syncDocs` rewrites those blocks; with `check` it only reports the stale ones.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export type ModuleKind = 'os' | 'provisioner';

/** A refusal or a failure, with the message for the user. */
export class ScaffoldError extends Error {}

const TEMPLATES = join(dirname(fileURLToPath(import.meta.url)), 'templates');
/** The names the templates are written for. */
const TEMPLATE_NAME: Record<ModuleKind, string> = {
  os: 'os-example',
  provisioner: 'provisioner-example',
};
/** What a module package's name must look like. */
export const NAME_PATTERN = /^(os|provisioner)-[a-z0-9]+(?:-[a-z0-9]+)*$/;
const WORKSPACE_DIRS = ['packages', 'apps'];
const DOCS_WITH_BLOCKS = ['docs/writing-a-module.md', 'packages/core/README.md'];

/** The repository root this script belongs to. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The kind of module a name asks for, or a refusal saying what a name must look like. */
export function kindOf(name: string): ModuleKind {
  const match = NAME_PATTERN.exec(name);
  if (match === null) {
    throw new ScaffoldError(
      `"${name}" is not a module name: use os-<name> for an OS module or provisioner-<name> for a ` +
        'provisioning module, <name> in lowercase letters and digits, words joined by single ' +
        'hyphens (os-alpine, provisioner-libvirt).',
    );
  }
  return match[1] as ModuleKind;
}

type Manifest = {
  name?: string;
  engines?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
};

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/** Every workspace package's directory (relative to the root) and manifest. */
function workspacePackages(root: string): { dir: string; manifest: Manifest }[] {
  const found: { dir: string; manifest: Manifest }[] = [];
  for (const parent of WORKSPACE_DIRS) {
    if (!existsSync(join(root, parent))) continue;
    for (const entry of readdirSync(join(root, parent), { withFileTypes: true })) {
      const manifest = join(root, parent, entry.name, 'package.json');
      if (entry.isDirectory() && existsSync(manifest))
        found.push({ dir: `${parent}/${entry.name}`, manifest: readJson<Manifest>(manifest) });
    }
  }
  return found.sort((a, b) => a.dir.localeCompare(b.dir));
}

/** Refuses a name whose package, directory or first-release changeset exists already. */
export function assertNew(root: string, name: string): void {
  const taken: string[] = [];
  if (existsSync(join(root, 'packages', name))) taken.push(`packages/${name} exists`);
  const owner = workspacePackages(root).find((p) => p.manifest.name === `@vlab/${name}`);
  if (owner !== undefined) taken.push(`${owner.dir} is already named @vlab/${name}`);
  const changeset = `.changeset/${name}-first-release.md`;
  if (existsSync(join(root, changeset))) taken.push(`${changeset} exists`);
  if (taken.length > 0)
    throw new ScaffoldError(
      `${name} exists already (${taken.join('; ')}): pick another name, or edit the package.`,
    );
}

/** The versions the new package uses: the workspace's own, so nothing new is installed. */
function conventions(root: string): {
  engines: Record<string, string>;
  peerRange: string;
  tools: Record<string, string>;
  zod: string;
} {
  const rootManifest = readJson<Manifest>(join(root, 'package.json'));
  const packages = workspacePackages(root);
  const tools: Record<string, string> = {};
  for (const tool of ['@microsoft/api-extractor', '@types/node', 'typescript', 'vitest']) {
    const version = rootManifest.devDependencies?.[tool];
    if (version === undefined)
      throw new ScaffoldError(`the root package.json has no devDependency ${tool}`);
    tools[tool] = version;
  }
  const zod = packages
    .map((p) => p.manifest.dependencies?.['zod'] ?? p.manifest.devDependencies?.['zod'])
    .find((version) => version !== undefined);
  if (zod === undefined) throw new ScaffoldError('no workspace package depends on zod');
  // The range the existing modules use (README, "Versions": ^<contract major>, workspace:^ here).
  const peerRange =
    packages
      .filter((p) => /^packages\/(os|provisioner)-/.test(p.dir))
      .map((p) => p.manifest.peerDependencies?.['@vlab/core'])
      .find((range) => range !== undefined) ?? 'workspace:^';
  const engines = rootManifest.engines;
  if (engines === undefined) throw new ScaffoldError('the root package.json has no engines');
  return { engines, peerRange, tools, zod };
}

/** `os-alpine` → `osAlpine`. */
function camel(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** A template file with the template's name replaced by `name`. */
function template(kind: ModuleKind, path: string, name: string): string {
  const from = TEMPLATE_NAME[kind];
  return readFileSync(join(TEMPLATES, kind, path), 'utf8')
    .replaceAll(from, name)
    .replaceAll(camel(from), camel(name));
}

/** The OS module a provisioner's conformance test hands the kit: the OS template, as os-memory. */
function memoryOsModule(): string {
  const header = `/**
 * The OS module of the memory lab's image, for the conformance test: the provisioner kit passes
 * it to the provisioner as \`ctx.os\` and watches which of its operations are called, and when.
 * It is the module \`pnpm new-module os-<name>\` writes.
 */
`;
  return template('os', 'src/index.ts', 'os-memory').replace(/^\/\*\*[\s\S]*?\*\/\n/, header);
}

const VITEST_CONFIG = `import { defineConfig } from 'vitest/config';

// The conformance kit on the in-memory lab of @vlab/core/testing: no machine needed.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
  },
});
`;

const TSCONFIG_BUILD = `{
  "$schema": "https://json.schemastore.org/tsconfig",
  "extends": "../../tsconfig.base.json",
  // The repository's strict base, plus the strictest flags an author might turn on.
  "compilerOptions": {
    "rootDir": "src",
    "outDir": "dist",
    "noUnusedLocals": true,
    "noUnusedParameters": true,
    "noImplicitReturns": true,
    "allowUnreachableCode": false,
    "allowUnusedLabels": false,
    "noUncheckedSideEffectImports": true
  },
  "include": ["src"]
}
`;

const TSCONFIG = `{
  "$schema": "https://json.schemastore.org/tsconfig",
  "extends": "./tsconfig.build.json",
  "compilerOptions": {
    "rootDir": ".",
    "noEmit": true
  },
  "include": ["src", "test", "vitest.config.ts"],
  "exclude": []
}
`;

function apiExtractorConfig(name: string): string {
  return `{
  "$schema": "https://developer.microsoft.com/json-schemas/api-extractor/v7/api-extractor.schema.json",
  // Entry point "." of @vlab/${name}. \`pnpm api\` (no --local) fails when the report differs;
  // \`pnpm api:update\` (--local) rewrites api/${name}.api.md.
  "projectFolder": ".",
  "mainEntryPointFilePath": "<projectFolder>/dist/index.d.ts",
  "bundledPackages": [],
  "newlineKind": "lf",
  "compiler": {
    "tsconfigFilePath": "<projectFolder>/tsconfig.build.json"
  },
  "apiReport": {
    "enabled": true,
    "reportFileName": "${name}",
    "reportFolder": "<projectFolder>/api/",
    "reportTempFolder": "<projectFolder>/temp/"
  },
  "docModel": {
    "enabled": true,
    "apiJsonFilePath": "<projectFolder>/temp/${name}.api.json"
  },
  "dtsRollup": {
    "enabled": false
  },
  "tsdocMetadata": {
    "enabled": false
  },
  "messages": {
    "compilerMessageReporting": {
      "default": { "logLevel": "error" }
    },
    "extractorMessageReporting": {
      "default": { "logLevel": "warning", "addToApiReportFile": false },
      "ae-forgotten-export": { "logLevel": "error", "addToApiReportFile": false },
      "ae-missing-release-tag": { "logLevel": "error", "addToApiReportFile": false },
      "ae-incompatible-release-tags": { "logLevel": "error", "addToApiReportFile": false },
      "ae-internal-missing-underscore": { "logLevel": "warning", "addToApiReportFile": false },
      "ae-unresolved-link": { "logLevel": "error", "addToApiReportFile": false },
      // Every public symbol and member must carry TSDoc (as in @vlab/core).
      "ae-undocumented": { "logLevel": "error", "addToApiReportFile": false }
    },
    "tsdocMessageReporting": {
      "default": { "logLevel": "warning", "addToApiReportFile": false }
    }
  }
}
`;
}

function manifest(root: string, kind: ModuleKind, name: string): string {
  const { engines, peerRange, tools, zod } = conventions(root);
  const what = kind === 'os' ? 'OS module' : 'provisioning module';
  const description =
    kind === 'os'
      ? `The ${name} ${what} of vlab: what happens inside the guest across a reservation's life, through the communicator of its context.`
      : `The ${name} ${what} of vlab: power, load, capture and the image store of a machine, from outside.`;
  const pkg = {
    name: `@vlab/${name}`,
    version: '0.0.0',
    description,
    license: 'MIT',
    repository: { type: 'git', directory: `packages/${name}` },
    type: 'module',
    sideEffects: false,
    exports: {
      '.': { types: './dist/index.d.ts', default: './dist/index.js' },
      './package.json': './package.json',
    },
    types: './dist/index.d.ts',
    files: ['dist', 'README.md', 'CHANGELOG.md'],
    engines,
    publishConfig: { access: 'public' },
    scripts: {
      build: 'tsc -p tsconfig.build.json',
      typecheck: 'tsc -p tsconfig.json --noEmit',
      test: 'vitest run',
      'test:unit': 'vitest run',
      api: 'api-extractor run --config api-extractor.json',
      'api:update': 'mkdir -p api && api-extractor run --local --config api-extractor.json',
    },
    dependencies: { zod },
    peerDependencies: { '@vlab/core': peerRange },
    devDependencies: {
      '@microsoft/api-extractor': tools['@microsoft/api-extractor'],
      '@types/node': tools['@types/node'],
      '@vlab/core': peerRange,
      typescript: tools['typescript'],
      vitest: tools['vitest'],
    },
  };
  return `${JSON.stringify(pkg, null, 2)}\n`;
}

function changeset(kind: ModuleKind, name: string): string {
  const what =
    kind === 'os'
      ? 'an OS module (contract `^1.1.0`): `postLoad`, `reserve`, `sanitize`, `postReservation`, `preCapture` (end state `off`), `shutdown`, `reboot`, `isResponding`, `waitForResponse`, `readStamp`'
      : 'a provisioning module (contract `^1.1.0`): `load`, `capture` (mode `image`), power, `nodeStatus`, and an image store with `importImage`, `imageSize` and `deleteImage`';
  return `---\n"@vlab/${name}": minor\n---\n\n${wrap(`First release of \`@vlab/${name}\`, ${what}.`)}\n`;
}

/** `text` broken into lines of at most 100 characters, as the other changesets are. */
function wrap(text: string): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > 100) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  return [...lines, line].join('\n');
}

/** The files of a new module package, by path relative to the repository root. */
export function renderModule(root: string, name: string): Map<string, string> {
  const kind = kindOf(name);
  const dir = `packages/${name}`;
  const files = new Map<string, string>([
    [`${dir}/package.json`, manifest(root, kind, name)],
    [`${dir}/tsconfig.build.json`, TSCONFIG_BUILD],
    [`${dir}/tsconfig.json`, TSCONFIG],
    [`${dir}/vitest.config.ts`, VITEST_CONFIG],
    [`${dir}/api-extractor.json`, apiExtractorConfig(name)],
    [`${dir}/README.md`, template(kind, 'README.md', name)],
    [`${dir}/src/index.ts`, template(kind, 'src/index.ts', name)],
    [`${dir}/test/conformance.test.ts`, template(kind, 'test/conformance.test.ts', name)],
  ]);
  if (kind === 'provisioner') files.set(`${dir}/test/memory-os.ts`, memoryOsModule());
  files.set(`.changeset/${name}-first-release.md`, changeset(kind, name));
  return files;
}

function biome(root: string): string {
  return createRequire(join(root, 'package.json')).resolve('@biomejs/biome/bin/biome');
}

/** `text` formatted by Biome as the file `path` (relative to `root`) would be. */
function biomeFormat(root: string, path: string, text: string): string {
  try {
    return execFileSync(process.execPath, [biome(root), 'format', `--stdin-file-path=${path}`], {
      cwd: root,
      input: text,
      encoding: 'utf8',
    });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new ScaffoldError(`biome could not format ${path}: ${stderr.trim() || String(error)}`);
  }
}

/**
 * Writes the package `name` into `root` (refusing a bad or taken name before writing anything),
 * formatted by Biome as `pnpm format` would; returns the paths written, relative to `root`.
 */
export function writeModule(root: string, name: string): string[] {
  kindOf(name);
  assertNew(root, name);
  const files = renderModule(root, name);
  for (const [path, text] of files) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  // The templates are written for their own names; another name can move a line break.
  try {
    execFileSync(process.execPath, [biome(root), 'format', '--write', `packages/${name}`], {
      cwd: root,
      encoding: 'utf8',
      stdio: 'pipe',
    });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new ScaffoldError(`biome could not format packages/${name}: ${stderr.trim()}`);
  }
  return [...files.keys()];
}

// ---------------------------------------------------------------------------------------------
// The documentation blocks
// ---------------------------------------------------------------------------------------------

const BLOCK_START = /^<!-- new-module:start (os|provisioner) (\S+) as (\S+) -->$/;
const BLOCK_END = '<!-- new-module:end -->';

/** One file of a rendered module, as a fenced block formatted by Biome. */
function docBlock(root: string, kind: ModuleKind, path: string, name: string): string {
  if (kindOf(name) !== kind) throw new ScaffoldError(`${name} is not a ${kind} module name`);
  const text = renderModule(root, name).get(`packages/${name}/${path}`);
  if (text === undefined) throw new ScaffoldError(`the ${kind} scaffold writes no file ${path}`);
  const language = path.endsWith('.ts') ? 'ts' : path.slice(path.lastIndexOf('.') + 1);
  return `\`\`\`${language}\n${biomeFormat(root, `packages/${name}/${path}`, text)}\`\`\``;
}

/**
 * Rewrites every `new-module` block of the documentation from the templates; with `check`, writes
 * nothing. Returns the files whose blocks were (or, with `check`, would be) rewritten.
 */
export function syncDocs(root: string, check: boolean): string[] {
  const stale: string[] = [];
  for (const file of DOCS_WITH_BLOCKS) {
    const path = join(root, file);
    const lines = readFileSync(path, 'utf8').split('\n');
    const out: string[] = [];
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i] as string;
      out.push(line);
      const start = BLOCK_START.exec(line);
      if (start === null) continue;
      const end = lines.indexOf(BLOCK_END, i + 1);
      if (end < 0) throw new ScaffoldError(`${file}:${i + 1}: "${line}" has no ${BLOCK_END}`);
      const [, kind, filePath, name] = start as unknown as [string, ModuleKind, string, string];
      out.push(docBlock(root, kind, filePath, name), BLOCK_END);
      i = end;
    }
    const text = out.join('\n');
    if (text === lines.join('\n')) continue;
    stale.push(relative(root, path).split(sep).join('/'));
    if (!check) writeFileSync(path, text);
  }
  return stale;
}
