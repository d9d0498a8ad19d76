import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { noConfig } from '../src/config.js';
import { CONTRACT_VERSION } from '../src/contract-version.js';
import {
  assertModuleDefinition,
  defineOsModule,
  defineProvisioner,
  instantiateOsModule,
  instantiateProvisioner,
  type ModuleDeps,
} from '../src/define.js';
import { isVlabError, type VlabError } from '../src/errors/vlab-error.js';
import { silentLogger } from '../src/logger.js';
import type { OsModule } from '../src/os-module.js';
import type { Provisioner } from '../src/provisioner.js';
import { createSecretResolver } from '../src/secret.js';
import { rejection } from './rejection.js';

function unused(): never {
  throw new Error('not used by this test');
}

function fakeOs(name = 'os-fake'): OsModule {
  return {
    name,
    family: 'linux',
    capabilities: { endStates: ['off'], features: [] },
    postLoad: unused,
    reserve: unused,
    sanitize: unused,
    postReservation: unused,
    preCapture: unused,
    isResponding: unused,
    waitForResponse: unused,
    shutdown: unused,
    reboot: unused,
    readStamp: unused,
  };
}

function fakeProvisioner(): Provisioner {
  return {
    name: 'prov-fake',
    capabilities: { features: [], captureEndState: 'off', osFamilies: 'any' },
    load: unused,
    capture: unused,
    powerOn: unused,
    powerOff: unused,
    powerCycle: unused,
    powerStatus: unused,
    nodeStatus: unused,
    imageExists: unused,
    imageSize: unused,
    listImages: unused,
    deleteImage: unused,
  };
}

const deps: ModuleDeps = { log: silentLogger, secrets: createSecretResolver({ env: {} }) };

const validOs = defineOsModule({
  name: 'os-fake',
  version: '1.2.3',
  contract: '^1.0.0',
  configSchema: noConfig,
  create: () => fakeOs(),
});

function thrown(fn: () => void): VlabError {
  try {
    fn();
  } catch (error) {
    if (isVlabError(error)) return error;
    throw error;
  }
  throw new Error('expected a throw');
}

describe('defineOsModule / defineProvisioner', () => {
  it('adds the kind and freezes the definition', () => {
    expect(validOs.kind).toBe('os');
    expect(Object.isFrozen(validOs)).toBe(true);
    const prov = defineProvisioner({
      name: 'prov-fake',
      version: '0.1.0',
      contract: '^1.0.0',
      configSchema: noConfig,
      create: () => fakeProvisioner(),
    });
    expect(prov.kind).toBe('provisioner');
    expect(Object.isFrozen(prov)).toBe(true);
  });
});

describe('assertModuleDefinition', () => {
  it('accepts a valid definition of the expected kind', () => {
    expect(() => assertModuleDefinition(validOs, 'os', '@vlab/os-fake')).not.toThrow();
  });

  it.each([
    ['undefined', undefined],
    ['null', null],
    ['a string', 'os-fake'],
    ['a function', () => validOs],
  ])('rejects %s with VLAB_ERR_MODULE_INVALID', (_label, value) => {
    const error = thrown(() => assertModuleDefinition(value, 'os', '@vlab/os-fake'));
    expect(error.code).toBe('VLAB_ERR_MODULE_INVALID');
    expect(error.message).toContain('@vlab/os-fake');
    expect(error.message).toContain('not an object');
  });

  it('rejects the wrong kind', () => {
    const error = thrown(() => assertModuleDefinition(validOs, 'provisioner', 'pkg'));
    expect(error.code).toBe('VLAB_ERR_MODULE_INVALID');
    expect(error.message).toContain('kind is os, expected provisioner');
  });

  it('rejects a missing create and non-string name, version or contract, listing every problem', () => {
    const error = thrown(() =>
      assertModuleDefinition(
        { kind: 'os', name: 1, version: undefined, contract: '^1.0.0', configSchema: noConfig },
        'os',
        'pkg',
      ),
    );
    expect(error.code).toBe('VLAB_ERR_MODULE_INVALID');
    expect(error.message).toContain('name is not a string');
    expect(error.message).toContain('version is not a string');
    expect(error.message).toContain('create is not a function');
    expect(error.message).not.toContain('contract is not a string');
  });

  it.each([
    ['missing', undefined],
    ['a plain object', { validate: () => ({ value: {} }) }],
    ['a function', () => ({})],
    ["with a non-object '~standard'", { '~standard': 'yes' }],
  ])('rejects a configSchema that is %s', (_label, configSchema) => {
    const error = thrown(() => assertModuleDefinition({ ...validOs, configSchema }, 'os', 'pkg'));
    expect(error.code).toBe('VLAB_ERR_MODULE_INVALID');
    expect(error.message).toContain('configSchema is not a Standard Schema');
  });

  it('accepts a zod schema as configSchema', () => {
    expect(() =>
      assertModuleDefinition(
        { ...validOs, configSchema: z.object({ a: z.string() }) },
        'os',
        'pkg',
      ),
    ).not.toThrow();
  });

  it('rejects a module speaking ^2.0.0 with VLAB_ERR_MODULE_CONTRACT_MISMATCH naming both versions', () => {
    const error = thrown(() =>
      assertModuleDefinition({ ...validOs, contract: '^2.0.0' }, 'os', 'pkg'),
    );
    expect(error.code).toBe('VLAB_ERR_MODULE_CONTRACT_MISMATCH');
    expect(error.message).toContain('os-fake');
    expect(error.message).toContain('^2.0.0');
    expect(error.message).toContain(CONTRACT_VERSION);
  });

  it('rejects an invalid contract range with VLAB_ERR_MODULE_INVALID', () => {
    const error = thrown(() =>
      assertModuleDefinition({ ...validOs, contract: 'latest' }, 'os', 'pkg'),
    );
    expect(error.code).toBe('VLAB_ERR_MODULE_INVALID');
  });
});

describe('instantiateOsModule', () => {
  it('validates the config, passes it and the deps to create, and returns the instance', async () => {
    const instance = fakeOs('os-configured');
    const seen: unknown[] = [];
    const definition = defineOsModule({
      name: 'os-configured',
      version: '1.0.0',
      contract: '^1.0.0',
      configSchema: z.object({ port: z.number().default(22) }),
      create: (config, givenDeps) => {
        seen.push(config, givenDeps);
        return instance;
      },
    });
    await expect(instantiateOsModule(definition, {}, deps)).resolves.toBe(instance);
    expect(seen).toEqual([{ port: 22 }, deps]);
  });

  it('accepts an async create', async () => {
    const instance = fakeOs();
    const definition = defineOsModule({ ...validOs, create: async () => instance });
    await expect(instantiateOsModule(definition, undefined, deps)).resolves.toBe(instance);
  });

  it('rejects an instance missing an operation, naming it', async () => {
    const { readStamp: _readStamp, shutdown: _shutdown, ...partial } = fakeOs();
    const definition = defineOsModule({
      ...validOs,
      create: () => partial as unknown as OsModule,
    });
    const error = await rejection(instantiateOsModule(definition, undefined, deps));
    expect(error.code).toBe('VLAB_ERR_MODULE_INVALID');
    expect(error.message).toContain(
      'module os-fake created an instance without shutdown, readStamp',
    );
  });

  it('does not require the optional postCapture', async () => {
    const instance = fakeOs();
    expect('postCapture' in instance).toBe(false);
    const definition = defineOsModule({ ...validOs, create: () => instance });
    await expect(instantiateOsModule(definition, undefined, deps)).resolves.toBe(instance);
  });

  it('surfaces config errors as VLAB_ERR_CONFIG_INVALID naming the module config key, without creating', async () => {
    let created = false;
    const definition = defineOsModule({
      ...validOs,
      name: 'os-linux',
      configSchema: z.object({ ssh: z.object({ port: z.number() }) }),
      create: () => {
        created = true;
        return fakeOs();
      },
    });
    const error = await rejection(instantiateOsModule(definition, { ssh: { port: '22' } }, deps));
    expect(error.code).toBe('VLAB_ERR_CONFIG_INVALID');
    expect(error.message).toContain('modules.os-linux.config.ssh.port');
    expect(created).toBe(false);
  });

  it('refuses a definition of the wrong contract before validating or creating', async () => {
    let created = false;
    const definition = defineOsModule({
      ...validOs,
      contract: '^2.0.0',
      create: () => {
        created = true;
        return fakeOs();
      },
    });
    const error = await rejection(instantiateOsModule(definition, undefined, deps));
    expect(error.code).toBe('VLAB_ERR_MODULE_CONTRACT_MISMATCH');
    expect(created).toBe(false);
  });
});

describe('instantiateProvisioner', () => {
  it('returns a complete instance and rejects one missing operations', async () => {
    const instance = fakeProvisioner();
    const definition = defineProvisioner({
      name: 'prov-fake',
      version: '0.1.0',
      contract: '^1.0.0',
      configSchema: noConfig,
      create: () => instance,
    });
    await expect(instantiateProvisioner(definition, {}, deps)).resolves.toBe(instance);

    const { capture: _capture, ...partial } = fakeProvisioner();
    const broken = defineProvisioner({
      ...definition,
      create: () => ({ ...partial, capture: 'nope' }) as unknown as Provisioner,
    });
    const error = await rejection(instantiateProvisioner(broken, {}, deps));
    expect(error.code).toBe('VLAB_ERR_MODULE_INVALID');
    expect(error.message).toContain('without capture');
  });
});

describe('declared extensions (contract 1.1)', () => {
  const osWith = (instance: object) =>
    defineOsModule({ ...validOs, create: () => instance as OsModule });
  const provisionerWith = (instance: object) =>
    defineProvisioner({
      name: 'prov-fake',
      version: '0.1.0',
      contract: '^1.1.0',
      configSchema: noConfig,
      create: () => instance as Provisioner,
    });

  it('refuses an own undeclared function-valued member, naming each one', async () => {
    const instance = { ...fakeOs(), captureStart: unused, helper: () => 1 };
    const error = await rejection(instantiateOsModule(osWith(instance), undefined, deps));
    expect(error.code).toBe('VLAB_ERR_MODULE_INVALID');
    expect(error.message).toContain(
      'module os-fake created an invalid instance: it has operations outside the contract that it does not declare in extensions: captureStart, helper',
    );
    expect(error.details['problems']).toHaveLength(1);
  });

  it('refuses an undeclared method inherited from a class prototype, but not constructor, getters or #private methods', async () => {
    class Base {
      inherited(): number {
        return 1;
      }
    }
    class Module extends Base {
      #secret(): number {
        return 2;
      }
      get computed(): number {
        return this.#secret();
      }
    }
    const instance = Object.assign(new Module(), fakeOs());
    const error = await rejection(instantiateOsModule(osWith(instance), undefined, deps));
    expect(error.message).toContain('does not declare in extensions: inherited.');
  });

  it('accepts declared extensions and the optional operations without declaring them', async () => {
    const os = {
      ...fakeOs(),
      postCapture: unused,
      close: async () => {},
      extensions: { machineId: 'reads /etc/machine-id' },
      machineId: unused,
    };
    await expect(instantiateOsModule(osWith(os), undefined, deps)).resolves.toBe(os);
    const provisioner = {
      ...fakeProvisioner(),
      importImage: unused,
      release: unused,
      close: async () => {},
      extensions: { snapshot: 'takes a hypervisor snapshot' },
      snapshot: unused,
    };
    await expect(instantiateProvisioner(provisionerWith(provisioner), {}, deps)).resolves.toBe(
      provisioner,
    );
  });

  it('refuses an extensions member that is not { name: description } or redeclares the contract', async () => {
    const bad = { ...fakeProvisioner(), extensions: { load: 'my own load' } };
    const clash = await rejection(instantiateProvisioner(provisionerWith(bad), {}, deps));
    expect(clash.message).toContain('extensions redeclares contract operations: load');
    const notStrings = { ...fakeOs(), extensions: { x: 1 } };
    const shape = await rejection(instantiateOsModule(osWith(notStrings), undefined, deps));
    expect(shape.message).toContain('extensions is not an object of { name: description } strings');
  });

  it('accepts a 1.0 module (no close, no extensions) on the 1.1 core', async () => {
    expect(CONTRACT_VERSION).toBe('1.1.0');
    const instance = fakeOs();
    const definition = defineOsModule({ ...validOs, contract: '^1.0.0', create: () => instance });
    await expect(instantiateOsModule(definition, undefined, deps)).resolves.toBe(instance);
  });

  it('passes parseConfig the module config path as keys, kept in details.fields', async () => {
    const definition = defineOsModule({
      ...validOs,
      name: 'os.dotted',
      configSchema: z.object({ sshPort: z.number() }),
      create: () => fakeOs(),
    });
    const error = await rejection(instantiateOsModule(definition, { sshPort: 'x' }, deps));
    expect(error.details['fields']).toEqual([
      { path: ['modules', 'os.dotted', 'config', 'sshPort'], message: expect.any(String) },
    ]);
  });
});
