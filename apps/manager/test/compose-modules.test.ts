import { join } from 'node:path';
import {
  createLogger,
  createSecretResolver,
  isVlabError,
  type LogRecord,
  type VlabError,
} from '@vlab/core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readManagerConfig } from '../src/config/config-file.js';
import { composeModules } from '../src/modules/compose-modules.js';
import { failure, place } from './expect-failure.js';
import {
  clearModuleEvents,
  type InstallDir,
  makeInstallDir,
  moduleEvents,
  moduleSource,
  WORKSPACE,
} from './install-dir.js';

const records: LogRecord[] = [];
const deps = {
  log: createLogger((record) => records.push(record)),
  secrets: createSecretResolver({ env: {} }),
};

let install: InstallDir;

beforeAll(async () => {
  // The config file lives in the install dir's parent layout: <dir>/lab/vlab.yaml, modules in <dir>.
  install = await makeInstallDir();
  await install.addPackage('test-os', {
    files: { 'index.js': moduleSource({ kind: 'os', name: 'os-test' }) },
  });
  await install.addPackage('@acme/test-provisioner', {
    files: { 'index.js': moduleSource({ kind: 'provisioner', name: 'provisioner-test' }) },
  });
  await install.link('@vlab/fixture-modules', join(WORKSPACE, 'packages/fixture-modules'));
  await install.addPackage('memory-provisioner', {
    files: {
      'index.js': "export { memoryProvisioner as default } from '@vlab/fixture-modules';\n",
    },
  });
});

afterAll(async () => {
  await install.remove();
});

beforeEach(() => {
  clearModuleEvents();
  records.length = 0;
});

const header = `lab: demo
dataDir: ./data
installDir: ..
`;

describe('composeModules', () => {
  it('loads, creates and closes every module the config names', async () => {
    const file = await install.write(
      'lab/vlab.yaml',
      `${header}osModules:
  linux: { package: test-os, settings: { marker: linux } }
provisioners:
  bm: { package: '@acme/test-provisioner', settings: { marker: bm } }
  bm2:
    package: '@acme/test-provisioner'
    settings: { marker: bm2, timeouts: { powerMs: 5000 } }
`,
    );
    const { config, source } = await readManagerConfig(file);
    expect(config.installDir).toBe(install.dir);
    const composed = await composeModules(config, source, deps);
    expect([...composed.osModules.keys()]).toEqual(['linux']);
    expect([...composed.provisioners.keys()]).toEqual(['bm', 'bm2']);
    expect(composed.definitions.osModules.get('linux')).toEqual({
      name: 'os-test',
      version: '1.2.3',
      contract: '^1.0.0',
      package: 'test-os',
    });
    expect(composed.definitions.provisioners.get('bm2')?.package).toBe('@acme/test-provisioner');
    expect(moduleEvents()).toEqual(['create:linux', 'create:bm', 'create:bm2']);
    // Each module logs through a child bound to its name and configuration key.
    expect(records.find((record) => record.message === 'created')?.fields).toMatchObject({
      module: 'os-test',
      osFamily: 'linux',
    });
    expect(
      records.filter((record) => record.message === 'created').map((r) => r.fields['provisioner']),
    ).toEqual([undefined, 'bm', 'bm2']);
    await composed.close();
    expect(moduleEvents().slice(3)).toEqual(['close:bm2', 'close:bm', 'close:linux']);
  });

  it('points a settings error at its line and column, and closes what it created', async () => {
    const text = `${header}osModules:
  linux: { package: test-os, settings: { marker: linux } }
provisioners:
  bm:
    package: '@acme/test-provisioner'
    settings:
      marker: bm
      timeouts:
        powerMs: -5
`;
    const file = await install.write('lab/settings.yaml', text);
    const { config, source } = await readManagerConfig(file);
    const error = await failure(composeModules(config, source, deps));
    console.info(`[example] ${error.message}`);
    expect(error.code).toBe('VLAB_ERR_CONFIG_INVALID');
    expect(error.message).toContain(
      `${file}:${place(text, '-5')}: provisioners.bm.settings.timeouts.powerMs: `,
    );
    expect(error.message).toContain('(checked by module "provisioner-test")');
    expect(error.details['fields']).toEqual([
      expect.objectContaining({
        path: ['provisioners', 'bm', 'settings', 'timeouts', 'powerMs'],
        line: 12,
        column: 18,
      }),
    ]);
    expect(isVlabError(error.cause, 'VLAB_ERR_CONFIG_INVALID')).toBe(true);
    expect((error.cause as VlabError).details['fields']).toEqual([
      expect.objectContaining({
        path: ['modules', 'provisioner-test', 'config', 'timeouts', 'powerMs'],
      }),
    ]);
    expect(moduleEvents()).toEqual(['create:linux', 'close:linux']);
  });

  it('points an unknown settings key at the key', async () => {
    const text = `${header}provisioners:
  bm:
    package: '@acme/test-provisioner'
    settings: { marker: bm, powerMS: 3 }
`;
    const file = await install.write('lab/unknown.yaml', text);
    const { config, source } = await readManagerConfig(file);
    const error = await failure(composeModules(config, source, deps));
    expect(error.code).toBe('VLAB_ERR_CONFIG_INVALID');
    // zod reports the unknown key at its object: the settings mapping.
    expect(error.message).toContain(
      `${file}:${place(text, '{ marker: bm')}: provisioners.bm.settings:`,
    );
  });

  it('points an error a module create throws without fields at the settings', async () => {
    const text = `${header}osModules:
  linux: { package: test-os }
provisioners:
  mem:
    package: memory-provisioner
    settings: { lab: no-such-lab }
`;
    const file = await install.write('lab/create.yaml', text);
    const { config, source } = await readManagerConfig(file);
    const error = await failure(composeModules(config, source, deps));
    expect(error.code).toBe('VLAB_ERR_CONFIG_INVALID');
    expect(error.message).toContain(
      `${file}:${place(text, '{ lab:')}: provisioners.mem.settings: no memory lab has id no-such-lab`,
    );
    expect(moduleEvents()).toEqual(['create:os-test', 'close:os-test']);
  });

  it('turns a plain error of create into VLAB_ERR_MODULE_START_FAILED and closes what it created', async () => {
    const text = `${header}osModules:
  linux: { package: test-os }
provisioners:
  bm: { package: '@acme/test-provisioner', settings: { failCreate: true } }
`;
    const file = await install.write('lab/start.yaml', text);
    const { config, source } = await readManagerConfig(file);
    const error = await failure(composeModules(config, source, deps));
    console.info(`[example] ${error.message}`);
    expect(error.code).toBe('VLAB_ERR_MODULE_START_FAILED');
    expect(error.message).toContain(
      `module provisioner-test 1.2.3 (package @acme/test-provisioner, provisioners.bm at ${file}:${place(text, 'bm:')}) threw while creating its instance: TypeError`,
    );
    expect(error.cause).toBeInstanceOf(TypeError);
    expect(moduleEvents()).toEqual(['create:os-test', 'close:os-test']);
  });

  it('creates nothing when a package is missing, and names the key that names it', async () => {
    const text = `${header}osModules:
  linux: { package: test-os }
provisioners:
  bm: { package: '@vlab/provisioner-baremetal' }
`;
    const file = await install.write('lab/missing.yaml', text);
    const { config, source } = await readManagerConfig(file);
    const error = await failure(composeModules(config, source, deps));
    expect(error.code).toBe('VLAB_ERR_MODULE_NOT_INSTALLED');
    expect(error.message).toContain(
      `provisioners.bm.package at ${file}:${place(text, "'@vlab/provisioner-baremetal'")}`,
    );
    expect(error.message).toContain(
      `npm install --prefix ${install.dir} @vlab/provisioner-baremetal`,
    );
    expect(moduleEvents()).toEqual([]);
  });
});
