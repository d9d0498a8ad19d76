import { chmod, mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createLogger, createSecretResolver, isVlabError, type LogRecord } from '@vlab/core';
import { createMemoryLab, type MemoryLab } from '@vlab/core/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createManager, type Manager } from '../src/manager.js';
import { NOT_CONFIGURED_REASON } from '../src/state/inventory.js';
import { type InstallDir, makeInstallDir, WORKSPACE } from './install-dir.js';
import { postmasterPid, postmasterRunning } from './postmaster.js';

// createManager end to end on the fixture modules of the memory lab: the modules are "installed"
// in a temporary install directory (not resolvable from the manager itself), the database is a
// real embedded PostgreSQL in the lab's data directory.

const records: LogRecord[] = [];
const log = createLogger((record) => records.push(record));

let install: InstallDir;
let lab: MemoryLab;
let manager: Manager | undefined;

function config(computers: readonly string[], extra = ''): string {
  return `lab: demo
dataDir: ./data
installDir: ..
osModules:
  linux: { package: memory-os }
provisioners:
  mem: { package: memory-provisioner, settings: { lab: ${lab.id} } }
pools:
  - provisioner: mem
    credentials: { bmc: { env: VLAB_MEMORY_BMC_PASSWORD } }
    computers:
${computers.map((name) => `      - { name: ${name}, hostname: ${name}.lab.test, addresses: { management: 192.0.2.${computers.indexOf(name) + 10} } }`).join('\n')}
images:
  - { name: base, osFamily: linux, owner: alice }
${extra}`;
}

async function start(text: string): Promise<Manager> {
  const path = await install.write('lab/vlab.yaml', text);
  manager = await createManager({
    configPath: path,
    log,
    secrets: createSecretResolver({ env: lab.secretEnv }),
  });
  return manager;
}

async function stop(): Promise<void> {
  await manager?.close();
  manager = undefined;
}

beforeAll(async () => {
  lab = createMemoryLab({ computers: ['c1', 'c2', 'c3'] });
  install = await makeInstallDir();
  // PostgreSQL runs as "postgres": the lab's data directory must be reachable (mkdtemp made 0700).
  await chmod(install.dir, 0o711);
  await install.link('@vlab/fixture-modules', join(WORKSPACE, 'packages/fixture-modules'));
  await install.addPackage('memory-os', {
    files: { 'index.js': "export { memoryOsModule as default } from '@vlab/fixture-modules';\n" },
  });
  await install.addPackage('memory-provisioner', {
    files: {
      'index.js': "export { memoryProvisioner as default } from '@vlab/fixture-modules';\n",
    },
  });
});

afterAll(async () => {
  await stop();
  await install?.remove();
});

beforeEach(() => {
  records.length = 0;
});

describe('createManager', () => {
  it('starts on an empty data directory: database, modules, inventory from the configuration', async () => {
    const m = await start(config(['c1', 'c2']));
    expect(m.inventory.added).toEqual(['c1', 'c2']);
    expect(m.inventory.imagesAdded).toEqual(['base']);
    expect(m.inventory.unknownOwners).toEqual(['alice']);
    expect(await m.computers.list()).toEqual([
      {
        name: 'c1',
        provisioner: 'mem',
        state: 'available',
        maintenanceReason: undefined,
        maintenanceRequested: undefined,
        loaded: undefined,
        tainted: false,
        power: { state: 'unknown', checkedAt: undefined },
      },
      {
        name: 'c2',
        provisioner: 'mem',
        state: 'available',
        maintenanceReason: undefined,
        maintenanceRequested: undefined,
        loaded: undefined,
        tainted: false,
        power: { state: 'unknown', checkedAt: undefined },
      },
    ]);
    expect(m.modules.osModules.get('linux')).toMatchObject({
      name: 'os-memory',
      package: 'memory-os',
    });
    expect(m.modules.provisioners.get('mem')).toMatchObject({
      name: 'provisioner-memory',
      package: 'memory-provisioner',
    });
    // The secret key the manager made, readable by its owner only.
    const entries = await readdir(join(install.dir, 'lab/data'));
    expect(entries).toContain('secret.key');
    await m.users.add({ login: 'alice', role: 'admin', displayName: 'Alice' });
    expect(JSON.stringify(records)).not.toContain(lab.secretEnv['VLAB_MEMORY_BMC_PASSWORD']);
    await stop();
  });

  it('keeps its state across a restart and follows a changed configuration, never silently', async () => {
    const m = await start(config(['c1', 'c3']));
    expect((await m.users.get('alice'))?.displayName).toBe('Alice');
    expect(m.inventory).toMatchObject({
      added: ['c3'],
      dropped: ['c2'],
      imagesAdded: [],
      unknownOwners: [],
    });
    const computers = await m.computers.list();
    expect(computers.find((c) => c.name === 'c2')).toMatchObject({
      state: 'maintenance',
      maintenanceReason: NOT_CONFIGURED_REASON,
    });
    expect((await m.images.list())[0]).toMatchObject({ name: 'base', owner: 'alice' });
    await stop();
    // A start with the same configuration changes nothing.
    const again = await start(config(['c1', 'c3']));
    expect(again.inventory).toEqual({
      added: [],
      moved: [],
      dropped: [],
      imagesAdded: [],
      unknownOwners: [],
    });
    await stop();
  });

  it('refuses a configuration with a typo before starting anything, pointing at line and key', async () => {
    const text = config(['c1']).replace('provisioners:', 'provisoners:');
    const error = await start(text).catch((caught: unknown) => caught);
    expect(isVlabError(error, 'VLAB_ERR_CONFIG_INVALID')).toBe(true);
    expect((error as Error).message).toMatch(
      /vlab\.yaml:6:1: provisoners: unknown key "provisoners"; did you mean `provisioners`\?/,
    );
    expect(await postmasterPid(join(install.dir, 'lab/data'))).toBeUndefined();
  });

  it('refuses a module it cannot use and stops the PostgreSQL it had started', async () => {
    await install.addPackage('future-os', {
      files: {
        'index.js': `import { defineOsModule, noConfig } from '@vlab/core';
export default defineOsModule({ name: 'os-future', version: '2.0.0', contract: '^2.0.0', configSchema: noConfig, create() { throw new Error('never'); } });
`,
      },
    });
    const text = config(['c1']).replace('package: memory-os', 'package: future-os');
    const error = await start(text).catch((caught: unknown) => caught);
    expect(isVlabError(error, 'VLAB_ERR_MODULE_CONTRACT_MISMATCH')).toBe(true);
    expect((error as Error).message).toMatch(
      /future-os 2\.0\.0 .* speaks contract \^2\.0\.0, but this manager's @vlab\/core implements contract 1\.1\.0/,
    );
    // The database had started (modules come after it): it is stopped again.
    expect(await postmasterRunning(join(install.dir, 'lab/data'))).toBe(false);
  });

  it('refuses a module that is not installed with the install command', async () => {
    const text = config(['c1']).replace('package: memory-os', "package: '@vlab/os-windows'");
    const error = await start(text).catch((caught: unknown) => caught);
    expect(isVlabError(error, 'VLAB_ERR_MODULE_NOT_INSTALLED')).toBe(true);
    expect((error as Error).message).toContain(
      `npm install --prefix ${install.dir} @vlab/os-windows`,
    );
  });
});

describe('createManager and module settings', () => {
  it('points a module settings error at the file, line and key', async () => {
    const text = config(['c1']).replace(
      `settings: { lab: ${lab.id} }`,
      `settings: { lab: ${lab.id}, pollIntervalMs: -1 }`,
    );
    const error = await start(text).catch((caught: unknown) => caught);
    expect(isVlabError(error, 'VLAB_ERR_CONFIG_INVALID')).toBe(true);
    expect((error as Error).message).toMatch(
      /vlab\.yaml:7:\d+: provisioners\.mem\.settings\.pollIntervalMs: /,
    );
  });
});

describe('createManager and its data directory', () => {
  it('says which parent directory keeps PostgreSQL out, and changes none', async () => {
    const blocked = join(install.dir, 'private');
    await mkdir(blocked, { mode: 0o700 });
    const text = config(['c1']).replace('dataDir: ./data', `dataDir: ${blocked}/lab/data`);
    const error = await start(text).catch((caught: unknown) => caught);
    expect(isVlabError(error, 'VLAB_ERR_DATABASE_START_FAILED')).toBe(true);
    expect((error as Error).message).toContain(
      `PostgreSQL runs as the user "postgres", which cannot reach the data directory ${blocked}/lab/data: ${blocked} (mode 0700) does not let it through`,
    );
    expect((error as Error).message).toMatch(/such as \/var\/lib\/vlab\), or let others search/);
    expect((await stat(blocked)).mode & 0o777).toBe(0o700);
  });
});
