import { parseConfig, type VlabError } from '@vlab/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  locateModuleSettingsError,
  parseManagerConfig,
  readManagerConfig,
} from '../src/config/config-file.js';
import { failure, parseFails, place } from './expect-failure.js';
import { FULL_EXAMPLE } from './full-example.js';
import { type InstallDir, makeInstallDir } from './install-dir.js';

let dir: InstallDir;
beforeAll(async () => {
  dir = await makeInstallDir();
});
afterAll(async () => {
  await dir.remove();
});

describe('readManagerConfig', () => {
  it('reads the full example, with defaults and absolute paths', async () => {
    const file = await dir.write('etc/vlab.yaml', FULL_EXAMPLE);
    const { config, source } = await readManagerConfig(file);
    expect(config.lab).toBe('demo');
    expect(config.dataDir).toBe(`${dir.dir}/etc/data`);
    expect(config.installDir).toBe(`${dir.dir}/etc`);
    expect(config.secretKey).toEqual({ file: `${dir.dir}/etc/secret.key` });
    expect(config.database).toEqual({ embedded: { port: 54320 } });
    expect(config.osModules['linux']).toEqual({
      package: '@vlab/os-linux',
      settings: { pollIntervalMs: 5 },
    });
    expect(config.provisioners['bm']?.settings).toEqual({
      store: { path: '/srv/images' },
      timeouts: { powerMs: 60000 },
    });
    expect(config.pools[0]?.computers[0]?.credentials).toEqual({
      deployKey: { file: `${dir.dir}/etc/keys/deploy` },
    });
    expect(config.images).toEqual([
      { name: 'debian-12', osFamily: 'linux', owner: 'alice', newRevisionTest: 'auto' },
    ]);
    expect(config.policies).toEqual({
      reservation: { maxHours: 24, unusedReclaimMinutes: 15, connectCheckSeconds: 30 },
      preload: true,
      powerSync: { intervalSeconds: 120, failuresBeforeMaintenance: 3 },
      concurrency: { perProvisioner: 8 },
      heartbeatSeconds: 10,
    });
    expect(source.file).toBe(file);
    expect(source.format(['provisioners', 'bm', 'settings', 'timeouts', 'powerMs'], 'x')).toBe(
      `${file}:${place(FULL_EXAMPLE, '60000')}: provisioners.bm.settings.timeouts.powerMs: x`,
    );
  });

  it('applies the defaults of a minimal file', () => {
    const { config } = parseManagerConfig(
      'lab: demo\ndataDir: /var/lib/vlab\n',
      '/etc/vlab/vlab.yaml',
    );
    expect(config).toEqual({
      lab: 'demo',
      dataDir: '/var/lib/vlab',
      installDir: '/etc/vlab',
      database: { embedded: {} },
      osModules: {},
      provisioners: {},
      pools: [],
      computers: [],
      images: [],
      policies: {
        reservation: { maxHours: 24, unusedReclaimMinutes: 15, connectCheckSeconds: 30 },
        preload: true,
        powerSync: { intervalSeconds: 120, failuresBeforeMaintenance: 3 },
        concurrency: { perProvisioner: 8 },
        heartbeatSeconds: 10,
      },
    });
  });

  it('takes an external database whose URL is a secret reference', () => {
    const { config } = parseManagerConfig(
      'lab: demo\ndataDir: d\ndatabase: { url: { env: VLAB_DATABASE_URL } }\n',
      'vlab.yaml',
    );
    expect(config.database).toEqual({ url: { env: 'VLAB_DATABASE_URL' } });
  });

  it('names an unknown key with its file, line and column, and the closest known key', async () => {
    const text = FULL_EXAMPLE.replace('provisioners:', 'provisoners:');
    const file = await dir.write('etc/typo.yaml', text);
    const error = await failure(() => readManagerConfig(file));
    console.info(`[example] ${error.message}`);
    expect(error.code).toBe('VLAB_ERR_CONFIG_INVALID');
    expect(error.message).toContain(
      `${file}:${place(text, 'provisoners')}: provisoners: unknown key "provisoners"; did you mean \`provisioners\`?`,
    );
    expect(error.details['fields']).toEqual([
      {
        path: ['provisoners'],
        message: expect.stringContaining('did you mean'),
        line: 9,
        column: 1,
      },
    ]);
  });

  it('suggests the closest key deep inside, or lists the known keys', () => {
    const text = 'lab: demo\ndataDir: d\npolicies:\n  powerSync: { intervalSecond: 5 }\n  zzz: 1\n';
    const error = (() => {
      try {
        parseManagerConfig(text, 'vlab.yaml');
      } catch (caught) {
        return caught as VlabError;
      }
      throw new Error('expected an error');
    })();
    expect(error.message).toContain(
      `vlab.yaml:${place(text, 'intervalSecond')}: policies.powerSync.intervalSecond: unknown key "intervalSecond"; did you mean \`intervalSeconds\`?`,
    );
    expect(error.message).toContain(
      `vlab.yaml:5:3: policies.zzz: unknown key "zzz" (known keys: reservation, preload, powerSync, concurrency, heartbeatSeconds)`,
    );
  });

  it('gives the exact line, column and key path of a wrong type deep inside a pool computer', async () => {
    const text = FULL_EXAMPLE.replace(
      'addresses: { management: 10.0.0.13 }',
      'addresses: { management: [10.0.0.13] }',
    );
    const file = await dir.write('etc/deep.yaml', text);
    const error = await failure(() => readManagerConfig(file));
    console.info(`[example] ${error.message}`);
    expect(error.message).toContain(
      `${file}:${place(text, '[10.0.0.13]')}: pools.0.computers.1.addresses.management: expected a string, got a list`,
    );
    expect(error.details['fields']).toEqual([
      {
        path: ['pools', 0, 'computers', 1, 'addresses', 'management'],
        message: 'expected a string, got a list',
        line: 23,
        column: 34,
      },
    ]);
    expect(error.details['issues']).toEqual([
      'pools.0.computers.1.addresses.management: expected a string, got a list',
    ]);
  });

  it('tells to quote an attribute YAML reads as a number', () => {
    const text = FULL_EXAMPLE.replace('bmcUser: operator', 'bmcPort: 623');
    const error = (() => {
      try {
        parseManagerConfig(text, 'vlab.yaml');
      } catch (caught) {
        return caught as VlabError;
      }
      throw new Error('expected an error');
    })();
    expect(error.message).toContain(
      `vlab.yaml:${place(text, '623')}: pools.0.computers.1.attributes.bmcPort: expected a string, got a number: quote the value`,
    );
  });

  it('points a missing key at the mapping that lacks it', () => {
    const text =
      'lab: demo\ndataDir: d\nprovisioners: { bm: { package: x } }\ncomputers:\n  - { name: c9, provisioner: bm, addresses: { management: 10.0.0.9 } }\n';
    expect(() => parseManagerConfig(text, 'vlab.yaml')).toThrow(
      `vlab.yaml:${place(text, '{ name: c9')}: computers.0.hostname: missing: expected a string`,
    );
  });

  it('reports a YAML syntax error with its line and column', async () => {
    const text = 'lab: demo\ndataDir: ./data\nprovisioners:\n  bm: { package: x\npools: []\n';
    const file = await dir.write('etc/syntax.yaml', text);
    const error = await failure(() => readManagerConfig(file));
    console.info(`[example] ${error.message}`);
    expect(error.code).toBe('VLAB_ERR_CONFIG_INVALID');
    expect(error.message).toContain(`${file}:5:1: pools: YAML: Flow map in block collection`);
    const quote = parseFails('lab: "demo\ndataDir: d\n');
    expect(quote.message).toMatch(/vlab\.yaml:\d+:\d+: .*YAML: Missing closing "quote/);
    const indent = parseFails(
      'lab: demo\ndataDir: d\nprovisioners:\n  bm:\n    package: x\n   settings: 1\n',
    );
    expect(indent.message).toContain(
      'vlab.yaml:6:1: provisioners: YAML: All mapping items must start at the same column',
    );
  });

  it('refuses a duplicate key, naming both lines', () => {
    const text =
      'lab: demo\ndataDir: d\nprovisioners:\n  bm: { package: a }\n  bm: { package: b }\n';
    const error = parseFails(text);
    console.info(`[example] ${error.message}`);
    expect(error.message).toContain(
      'vlab.yaml:5:3: provisioners.bm: duplicate key: "bm" is already given at line 4; give each key once',
    );
  });

  it('refuses other YAML traps: several documents, an unknown tag, a complex key, __proto__, an alias bomb', () => {
    expect(parseFails('lab: demo\ndataDir: d\n---\nlab: other\n').message).toContain(
      'vlab.yaml:3:1: (root): YAML: Source contains multiple documents',
    );
    expect(parseFails('lab: !secret demo\ndataDir: d\n').message).toContain(
      'YAML: Unresolved tag: !secret',
    );
    expect(parseFails('lab: demo\ndataDir: d\n? [a]\n: 1\n').message).toContain(
      'vlab.yaml:3:3: (root): a key must be a plain value',
    );
    expect(
      parseFails(
        'lab: demo\ndataDir: d\nprovisioners: { bm: { package: x } }\ncomputers:\n  - { name: c1, provisioner: bm, hostname: h, addresses: { management: h }, attributes: { __proto__: x } }\n',
      ).message,
    ).toContain('computers.0.attributes.__proto__: the key __proto__ is not allowed');
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x, x]',
      'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]',
      'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]',
      'd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]',
    ].join('\n');
    expect(parseFails(bomb).message).toContain('expands aliases (*name) more than 100 times');
  });

  it('allows aliases for shared settings, within reason', () => {
    const { config, source } = parseManagerConfig(
      'lab: demo\ndataDir: d\nprovisioners:\n  bm: &bm { package: x, settings: { a: 1 } }\n  vm: *bm\n',
      'vlab.yaml',
    );
    expect(config.provisioners['vm']).toEqual({ package: 'x', settings: { a: 1 } });
    expect(source.locate(['provisioners', 'vm', 'settings', 'a'])).toEqual({
      line: 4,
      column: 40,
      exact: true,
    });
  });

  it('refuses an empty file, a list, and a file that does not exist', async () => {
    expect(parseFails('').message).toContain(
      'vlab.yaml:1:1: (root): expected a mapping (key: value), got an empty value (null)',
    );
    expect(parseFails('- a\n').message).toContain(
      '(root): expected a mapping (key: value), got a list',
    );
    const error = await failure(() => readManagerConfig(`${dir.dir}/nowhere.yaml`));
    console.info(`[example] ${error.message}`);
    expect(error.code).toBe('VLAB_ERR_CONFIG_UNREADABLE');
    expect(error.message).toContain(`${dir.dir}/nowhere.yaml: there is no such file`);
    const directory = await failure(() => readManagerConfig(dir.dir));
    expect(directory.message).toContain('it is a directory');
  });

  it('never prints a value, only what kind of value it was', () => {
    const error = parseFails(
      'lab: demo\ndataDir: d\ndatabase: { url: { env: "postgres://u:hunter2@db" } }\nsecretKey: { file: 5, env: hunter3 }\n',
    );
    expect(error.message).not.toContain('hunter2');
    expect(error.message).not.toContain('hunter3');
    expect(error.message).toContain('database.url.env: must be an environment variable name');
    expect(error.message).toContain('secretKey.file: expected a string, got a whole number');
  });
});

describe('locateModuleSettingsError', () => {
  const text = `lab: demo
dataDir: d
provisioners:
  bm:
    package: '@vlab/provisioner-baremetal'
    settings:
      store: { path: relative }
      timeouts:
        powerMs: fast
`;
  const { source } = parseManagerConfig(text, 'lab.yaml');
  const settings = ['provisioners', 'bm', 'settings'] as const;

  it('moves the paths of core config errors to the settings in the file', async () => {
    const schema = z
      .object({
        store: z.object({ path: z.string().startsWith('/') }),
        timeouts: z.object({ powerMs: z.number() }),
      })
      .strict();
    const original = await parseConfig(
      schema,
      { store: { path: 'relative' }, timeouts: { powerMs: 'fast' } },
      ['modules', 'provisioner-baremetal', 'config'],
    ).then(
      () => {
        throw new Error('expected an error');
      },
      (error: unknown) => error as VlabError,
    );
    const located = locateModuleSettingsError(original, source, settings) as VlabError;
    console.info(`[example] ${located.message}`);
    expect(located.code).toBe('VLAB_ERR_CONFIG_INVALID');
    expect(located.cause).toBe(original);
    expect(located.message).toContain(
      `lab.yaml:${place(text, 'relative')}: provisioners.bm.settings.store.path: `,
    );
    expect(located.message).toContain(
      `lab.yaml:${place(text, 'fast')}: provisioners.bm.settings.timeouts.powerMs: `,
    );
    expect(located.message).toContain('(checked by module "provisioner-baremetal")');
    expect(located.details['fields']).toEqual([
      expect.objectContaining({ path: [...settings, 'store', 'path'], line: 7, column: 22 }),
      expect.objectContaining({ path: [...settings, 'timeouts', 'powerMs'], line: 9, column: 18 }),
    ]);
  });

  it('puts an error without fields at the settings, and leaves other errors alone', async () => {
    const { coreError } = await import('@vlab/core');
    const plain = coreError('VLAB_ERR_CONFIG_INVALID', 'the store directory does not exist');
    const located = locateModuleSettingsError(plain, source, settings) as VlabError;
    expect(located.message).toContain(
      `lab.yaml:${place(text, 'store:')}: provisioners.bm.settings: the store directory does not exist`,
    );
    const other = coreError('VLAB_ERR_MODULE_INVALID', 'x');
    expect(locateModuleSettingsError(other, source, settings)).toBe(other);
    const notVlab = new Error('x');
    expect(locateModuleSettingsError(notVlab, source, settings)).toBe(notVlab);
  });

  it('points at the deepest existing key when the settings lack the key', () => {
    expect(source.locate([...settings, 'timeouts', 'bmcCommandMs'])).toEqual({
      line: 8,
      column: 7,
      exact: false,
    });
  });
});
