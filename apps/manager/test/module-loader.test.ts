import { createRequire } from 'node:module';
import { join } from 'node:path';
import {
  CONTRACT_VERSION,
  createSecretResolver,
  instantiateOsModule,
  instantiateProvisioner,
  isVlabError,
  silentLogger,
} from '@vlab/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installCommand, loadModule } from '../src/modules/module-loader.js';
import { failure } from './expect-failure.js';
import { type InstallDir, makeInstallDir, moduleSource, WORKSPACE } from './install-dir.js';

const deps = { log: silentLogger, secrets: createSecretResolver({ env: {} }) };

let install: InstallDir;

beforeAll(async () => {
  install = await makeInstallDir();
  await install.addPackage('test-os', {
    files: { 'index.js': moduleSource({ kind: 'os', name: 'os-test' }) },
  });
  await install.addPackage('@acme/test-provisioner', {
    files: { 'index.js': moduleSource({ kind: 'provisioner', name: 'provisioner-test' }) },
  });
  await install.link('@vlab/fixture-modules', join(WORKSPACE, 'packages/fixture-modules'));
  await install.addPackage('fixture-os', {
    files: { 'index.js': "export { memoryOsModule as default } from '@vlab/fixture-modules';\n" },
  });
  await install.addPackage('not-a-module', {
    files: { 'index.js': 'export default { hello: "world" };\n' },
  });
  await install.addPackage('no-default', {
    files: { 'index.js': 'export const helper = 1;\n' },
  });
  await install.addPackage('future-os', {
    manifest: { version: '3.0.0' },
    files: {
      'index.js': moduleSource({
        kind: 'os',
        name: 'os-future',
        version: '3.0.0',
        contract: '^2.0.0',
      }),
    },
  });
  await install.addPackage('old-os', {
    manifest: { version: '0.9.4' },
    files: {
      'index.js': moduleSource({
        kind: 'os',
        name: 'os-old',
        version: '0.9.4',
        contract: '^0.9.0',
      }),
    },
  });
  await install.addPackage('throws-on-import', {
    files: { 'index.js': "throw new Error('this module cannot start');\n" },
  });
  await install.addPackage('entry-missing', { files: {} });
  await install.addPackage('import-only', {
    manifest: {
      exports: { '.': { require: './index.cjs', import: './index.js' } },
    },
    files: {
      'index.cjs': 'module.exports = { notTheEsmEntry: true };\n',
      'index.js': moduleSource({ kind: 'os', name: 'os-import-only' }),
    },
  });
  await install.addPackage('legacy-main', {
    manifest: { exports: undefined, main: 'lib/main.js' },
    files: { 'lib/main.js': moduleSource({ kind: 'provisioner', name: 'provisioner-legacy' }) },
  });
});

afterAll(async () => {
  await install.remove();
});

describe('loadModule', () => {
  it('loads an OS module and a provisioner from the install dir, and core instantiates them', async () => {
    const os = await loadModule('test-os', 'os', install.dir);
    expect(os).toMatchObject({ kind: 'os', name: 'os-test', version: '1.2.3' });
    const osInstance = await instantiateOsModule(os, { marker: 'a' }, deps);
    expect(typeof osInstance.reserve).toBe('function');

    const provisioner = await loadModule('@acme/test-provisioner', 'provisioner', install.dir);
    expect(provisioner).toMatchObject({ kind: 'provisioner', name: 'provisioner-test' });
    const instance = await instantiateProvisioner(provisioner, undefined, deps);
    expect(typeof instance.load).toBe('function');
  });

  it('loads the fixture OS module of @vlab/fixture-modules re-exported by a package', async () => {
    const os = await loadModule('fixture-os', 'os', install.dir);
    expect(os).toMatchObject({ kind: 'os', name: 'os-memory', contract: '^1.1.0' });
    const instance = await instantiateOsModule(os, { pollIntervalMs: 5 }, deps);
    expect(typeof instance.preCapture).toBe('function');
    await instance.close?.();
  });

  it('prefers the import condition of a dual package, and follows main without exports', async () => {
    await expect(loadModule('import-only', 'os', install.dir)).resolves.toMatchObject({
      name: 'os-import-only',
    });
    await expect(loadModule('legacy-main', 'provisioner', install.dir)).resolves.toMatchObject({
      name: 'provisioner-legacy',
    });
  });

  it('refuses a missing package with VLAB_ERR_MODULE_NOT_INSTALLED and the npm command', async () => {
    const error = await failure(
      loadModule('@vlab/os-windows', 'os', install.dir, {
        configKey: 'osModules.windows.package at vlab.yaml:9:23',
      }),
    );
    console.info(`[example] ${error.message}`);
    expect(error.code).toBe('VLAB_ERR_MODULE_NOT_INSTALLED');
    expect(error.message).toContain('@vlab/os-windows');
    expect(error.message).toContain('osModules.windows.package at vlab.yaml:9:23');
    expect(error.message).toContain(`npm install --prefix ${install.dir} @vlab/os-windows`);
    expect(error.details['installCommand']).toBe(installCommand(install.dir, '@vlab/os-windows'));
  });

  it('suggests an installed package whose name is close', async () => {
    const error = await failure(loadModule('test-oss', 'os', install.dir));
    expect(error.code).toBe('VLAB_ERR_MODULE_NOT_INSTALLED');
    expect(error.message).toContain('test-os is installed: did you mean it?');
  });

  it('resolves from the install dir, not from the manager', async () => {
    // @vlab/fixture-modules resolves from the manager (a devDependency) …
    const fromManager = createRequire(import.meta.url);
    expect(fromManager.resolve('@vlab/fixture-modules')).toContain('fixture-modules');
    // … but an empty install dir does not have it, so it is not installed there.
    const empty = await makeInstallDir();
    try {
      const error = await failure(loadModule('@vlab/fixture-modules', 'os', empty.dir));
      expect(error.code).toBe('VLAB_ERR_MODULE_NOT_INSTALLED');
      // And test-os, present only in the other temporary dir, is not found from the manager.
      expect(() => fromManager.resolve('test-os')).toThrow();
      await expect(loadModule('test-os', 'os', install.dir)).resolves.toMatchObject({
        name: 'os-test',
      });
    } finally {
      await empty.remove();
    }
  });

  it('refuses a default export that is not a module with VLAB_ERR_MODULE_INVALID', async () => {
    const error = await failure(
      loadModule('not-a-module', 'provisioner', install.dir, {
        configKey: 'provisioners.bm.package',
      }),
    );
    console.info(`[example] ${error.message}`);
    expect(error.code).toBe('VLAB_ERR_MODULE_INVALID');
    expect(error.message).toContain('package not-a-module (named by provisioners.bm.package)');
    expect(error.message).toContain('kind is undefined, expected provisioner');

    const none = await failure(loadModule('no-default', 'os', install.dir));
    expect(none.code).toBe('VLAB_ERR_MODULE_INVALID');
    expect(none.message).toContain('it has no default export (it exports helper)');
  });

  it('refuses a module of the other kind', async () => {
    const error = await failure(loadModule('test-os', 'provisioner', install.dir));
    expect(error.code).toBe('VLAB_ERR_MODULE_INVALID');
    expect(error.message).toContain('kind is os, expected provisioner');
  });

  it('names both versions and tells to upgrade the manager for a module of a newer contract', async () => {
    const error = await failure(
      loadModule('future-os', 'os', install.dir, { configKey: 'osModules.linux.package' }),
    );
    console.info(`[example] ${error.message}`);
    expect(error.code).toBe('VLAB_ERR_MODULE_CONTRACT_MISMATCH');
    expect(error.message).toContain(
      `package future-os 3.0.0 (module os-future, named by osModules.linux.package) speaks contract ^2.0.0, but this manager's @vlab/core implements contract ${CONTRACT_VERSION}`,
    );
    expect(error.message).toContain('upgrade the manager (@vlab/manager and its @vlab/core)');
    expect(error.details).toMatchObject({
      package: 'future-os',
      version: '3.0.0',
      moduleRange: '^2.0.0',
      coreContract: CONTRACT_VERSION,
      upgrade: 'manager',
    });
    expect(isVlabError(error.cause, 'VLAB_ERR_MODULE_CONTRACT_MISMATCH')).toBe(true);
  });

  it('names both versions and tells to upgrade the module for a module of an older contract', async () => {
    const error = await failure(loadModule('old-os', 'os', install.dir));
    console.info(`[example] ${error.message}`);
    expect(error.code).toBe('VLAB_ERR_MODULE_CONTRACT_MISMATCH');
    expect(error.message).toContain('package old-os 0.9.4 (module os-old) speaks contract ^0.9.0');
    expect(error.message).toContain(CONTRACT_VERSION);
    expect(error.message).toContain(
      `upgrade old-os to a release built for contract ${CONTRACT_VERSION}`,
    );
    expect(error.message).toContain(`npm install --prefix ${install.dir} old-os@latest`);
    expect(error.details['upgrade']).toBe('module');
    expect(isVlabError(error.cause, 'VLAB_ERR_MODULE_CONTRACT_MISMATCH')).toBe(true);
  });

  it('reports a package whose import throws, or whose entry is missing, as VLAB_ERR_MODULE_IMPORT_FAILED', async () => {
    const error = await failure(loadModule('throws-on-import', 'os', install.dir));
    console.info(`[example] ${error.message}`);
    expect(error.code).toBe('VLAB_ERR_MODULE_IMPORT_FAILED');
    expect(error.message).toContain('Error: this module cannot start');
    expect(error.cause).toBeInstanceOf(Error);

    const missing = await failure(loadModule('entry-missing', 'os', install.dir));
    expect(missing.code).toBe('VLAB_ERR_MODULE_IMPORT_FAILED');
    expect(missing.message).toContain('its entry file');
  });

  it('refuses a package name that is a path or hostile text', async () => {
    for (const name of ['../evil', '/etc/passwd', "'; rm -rf / #", 'a\nb', 'módulo', '']) {
      const error = await failure(loadModule(name, 'os', install.dir));
      expect(error.code).toBe('VLAB_ERR_CONFIG_INVALID');
      expect(error.message).not.toContain('\n');
    }
  });

  it('quotes an install dir with spaces in the npm command', () => {
    expect(installCommand('/srv/my lab', '@vlab/os-linux')).toBe(
      "npm install --prefix '/srv/my lab' @vlab/os-linux",
    );
  });
});
