import { chmod, mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
/** The workspace root. */
export const WORKSPACE = resolve(here, '../../..');

/** A package to write into a temporary install directory. */
export interface PackageSpec {
  /** `package.json` fields besides `name` (default: version 1.0.0, ESM, `exports: { ".": { default: "./index.js" } }`). */
  readonly manifest?: Record<string, unknown>;
  /** Files by path inside the package (`index.js`). */
  readonly files: Readonly<Record<string, string>>;
}

/** A temporary directory modules are "installed" in, as `npm install --prefix` would. */
export interface InstallDir {
  /** The directory (real path). */
  readonly dir: string;
  /** Writes `node_modules/<name>` with a package.json and the files. */
  addPackage(name: string, spec: PackageSpec): Promise<void>;
  /** Links `node_modules/<name>` to `target` (a workspace package). */
  link(name: string, target: string): Promise<void>;
  /** Writes a file under the directory (a config file). */
  write(path: string, text: string): Promise<string>;
  /** Removes the directory. */
  remove(): Promise<void>;
}

/**
 * A temporary install directory where `@vlab/core` (the workspace's, built) and `zod` resolve, so
 * modules written into it import them as a published module would.
 */
export async function makeInstallDir(): Promise<InstallDir> {
  const dir = await realpath(await mkdtemp(join(tmpdir(), 'vlab-manager-install-')));
  const link = async (name: string, target: string): Promise<void> => {
    const path = join(dir, 'node_modules', name);
    await mkdir(dirname(path), { recursive: true });
    await symlink(target, path, 'dir');
  };
  await link('@vlab/core', join(WORKSPACE, 'packages/core'));
  await link('zod', await realpath(join(WORKSPACE, 'apps/manager/node_modules/zod')));
  return {
    dir,
    async addPackage(name, spec) {
      const root = join(dir, 'node_modules', name);
      await mkdir(root, { recursive: true });
      const manifest = {
        name,
        version: '1.0.0',
        type: 'module',
        exports: { '.': { default: './index.js' } },
        ...spec.manifest,
      };
      await writeFile(join(root, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
      for (const [path, text] of Object.entries(spec.files)) {
        await mkdir(dirname(join(root, path)), { recursive: true });
        await writeFile(join(root, path), text);
      }
    },
    link,
    async write(path, text) {
      const full = join(dir, path);
      await mkdir(dirname(full), { recursive: true });
      await writeFile(full, text);
      return full;
    },
    async remove() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * An install directory with the real `@vlab/os-linux` and `@vlab/provisioner-baremetal` linked in,
 * readable by the system user postgres (an embedded PostgreSQL's data may be below it).
 */
export async function makeRealModulesInstallDir(): Promise<InstallDir> {
  const install = await makeInstallDir();
  await chmod(install.dir, 0o711);
  await install.link('@vlab/os-linux', join(WORKSPACE, 'packages/os-linux'));
  await install.link(
    '@vlab/provisioner-baremetal',
    join(WORKSPACE, 'packages/provisioner-baremetal'),
  );
  return install;
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
];
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
];

/** What a test module records, on `globalThis.__vlabModuleEvents` (the module runs outside vitest's module graph). */
export function moduleEvents(): string[] {
  const holder = globalThis as { __vlabModuleEvents?: string[] };
  holder.__vlabModuleEvents ??= [];
  return holder.__vlabModuleEvents;
}

/** Forgets the recorded events. */
export function clearModuleEvents(): void {
  moduleEvents().length = 0;
}

/**
 * The `index.js` of a minimal module written as an outside author would (ESM, `@vlab/core` and
 * zod from its install directory). Its settings: `{ marker?: string, failCreate?: boolean,
 * timeouts?: { powerMs?: positive integer } }`; `create` records `create:<marker>` and `close`
 * records `close:<marker>`.
 */
export function moduleSource(options: {
  readonly kind: 'os' | 'provisioner';
  readonly name: string;
  readonly version?: string;
  readonly contract?: string;
}): string {
  const operations = options.kind === 'os' ? OS_OPERATIONS : PROVISIONER_OPERATIONS;
  const define = options.kind === 'os' ? 'defineOsModule' : 'defineProvisioner';
  return `import { ${define} } from '@vlab/core';
import { z } from 'zod';

const events = () => (globalThis.__vlabModuleEvents ??= []);

export default ${define}({
  name: ${JSON.stringify(options.name)},
  version: ${JSON.stringify(options.version ?? '1.2.3')},
  contract: ${JSON.stringify(options.contract ?? '^1.0.0')},
  configSchema: z
    .object({
      marker: z.string().default(${JSON.stringify(options.name)}),
      failCreate: z.boolean().default(false),
      timeouts: z
        .object({ powerMs: z.number().int().positive().default(60000) })
        .strict()
        .default({ powerMs: 60000 }),
    })
    .strict()
    .default({ marker: ${JSON.stringify(options.name)}, failCreate: false, timeouts: { powerMs: 60000 } }),
  create(config, deps) {
    if (config.failCreate) throw new TypeError('cannot read properties of undefined (reading "x")');
    events().push('create:' + config.marker);
    deps.log.info('created', { marker: config.marker });
    const instance = {
      name: ${JSON.stringify(options.name)},
      config,
      async close() {
        events().push('close:' + config.marker);
      },
    };
    for (const op of ${JSON.stringify(operations)}) {
      instance[op] = async () => {
        throw new Error(op + ' is not implemented by this test module');
      };
    }
    return instance;
  },
});
`;
}
