import type { StandardSchemaV1 } from '@standard-schema/spec';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { noConfig, parseConfig } from '../src/config.js';
import { rejection } from './rejection.js';

const schema = z.object({
  imageDir: z.string(),
  ssh: z.object({ port: z.number().int(), user: z.string().default('root') }),
  bridges: z.array(z.object({ name: z.string() })).default([]),
});

describe('parseConfig', () => {
  it('returns the validated output, defaults applied', async () => {
    const config = await parseConfig(schema, { imageDir: '/srv', ssh: { port: 22 } }, 'x');
    expect(config).toEqual({ imageDir: '/srv', ssh: { port: 22, user: 'root' }, bridges: [] });
  });

  it('names the dotted key path of a wrong key, prefixed with where', async () => {
    const error = await rejection(
      parseConfig(
        schema,
        { imageDir: '/srv', ssh: { port: 'twenty-two' } },
        'modules.os-linux.config',
      ),
    );
    expect(error.code).toBe('VLAB_ERR_CONFIG_INVALID');
    expect(error.message).toContain('modules.os-linux.config.ssh.port: ');
    expect(error.details['issues']).toEqual([
      expect.stringMatching(/^modules\.os-linux\.config\.ssh\.port: .+/),
    ]);
  });

  it('names array indices and every wrong key', async () => {
    const error = await rejection(
      parseConfig(schema, { ssh: { port: 22 }, bridges: [{ name: 'br0' }, { name: 7 }] }, 'vm'),
    );
    const issues = error.details['issues'] as string[];
    expect(issues).toHaveLength(2);
    expect(issues.some((line) => line.startsWith('vm.imageDir: '))).toBe(true);
    expect(issues.some((line) => line.startsWith('vm.bridges.1.name: '))).toBe(true);
    expect(error.message).toContain('vm.imageDir');
    expect(error.message).toContain('vm.bridges.1.name');
  });

  it('names only where for an issue at the root', async () => {
    const error = await rejection(parseConfig(schema, 'not an object', 'modules.x.config'));
    expect(error.details['issues']).toEqual([expect.stringMatching(/^modules\.x\.config: .+/)]);
  });

  it('accepts path segments given as objects', async () => {
    const custom: StandardSchemaV1<unknown, never> = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: () => ({
          issues: [{ message: 'too big', path: [{ key: 'limits' }, { key: 0 }, 'max'] }],
        }),
      },
    };
    const error = await rejection(parseConfig(custom, {}, 'w'));
    expect(error.details['issues']).toEqual(['w.limits.0.max: too big']);
  });

  it("keeps each issue's key path as an array beside its message in details.fields", async () => {
    const error = await rejection(
      parseConfig(schema, { ssh: { port: 'x' }, bridges: [{ name: 'br0' }, { name: 7 }] }, [
        'modules',
        'os.linux',
        'config',
      ]),
    );
    const fields = error.details['fields'] as { path: unknown[]; message: string }[];
    expect(fields.map((f) => f.path)).toEqual(
      expect.arrayContaining([
        ['modules', 'os.linux', 'config', 'imageDir'],
        ['modules', 'os.linux', 'config', 'ssh', 'port'],
        ['modules', 'os.linux', 'config', 'bridges', 1, 'name'],
      ]),
    );
    expect(fields).toHaveLength(3);
    for (const field of fields) expect(field.message).toMatch(/.+/);
    // The 1.0 lines stay, one per field, in the same order.
    expect(error.details['issues']).toEqual(fields.map((f) => `${f.path.join('.')}: ${f.message}`));
  });

  it('splits a dotted where into keys, and gives [] plus where for an issue at the root', async () => {
    const error = await rejection(parseConfig(schema, 'not an object', 'modules.x.config'));
    expect(error.details['fields']).toEqual([
      { path: ['modules', 'x', 'config'], message: expect.any(String) },
    ]);
    const custom: StandardSchemaV1<unknown, never> = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: () => ({ issues: [{ message: 'too big', path: [{ key: 'limits' }, 0] }] }),
      },
    };
    const bare = await rejection(parseConfig(custom, {}, ''));
    expect(bare.details['fields']).toEqual([{ path: ['limits', 0], message: 'too big' }]);
  });

  it('works with a synchronous or asynchronous validate', async () => {
    const asyncSchema: StandardSchemaV1<unknown, number> = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: async (value) => ({ value: Number(value) * 2 }),
      },
    };
    await expect(parseConfig(asyncSchema, 21, 'w')).resolves.toBe(42);
    await expect(parseConfig(z.number(), 5, 'w')).resolves.toBe(5);
  });
});

describe('noConfig', () => {
  it('accepts no value (undefined), {} and an object without a prototype', async () => {
    await expect(parseConfig(noConfig, undefined, 'modules.m.config')).resolves.toEqual({});
    await expect(parseConfig(noConfig, {}, 'modules.m.config')).resolves.toEqual({});
    await expect(parseConfig(noConfig, Object.create(null), 'modules.m.config')).resolves.toEqual(
      {},
    );
  });

  it('refuses a non-empty object, naming its keys', async () => {
    const error = await rejection(parseConfig(noConfig, { a: 1, b: 2 }, 'modules.m.config'));
    expect(error.code).toBe('VLAB_ERR_CONFIG_INVALID');
    expect(error.message).toContain(
      'modules.m.config: this module takes no configuration: expected no value or an empty object {}, got an object with keys a, b',
    );
  });

  class Settings {
    readonly verbose = true;
  }
  class Empty {}
  const notPlain: readonly [string, unknown][] = [
    ['an array', []],
    ['null', null],
    ['a string', 'x'],
    ['a number', 3],
    ['a boolean', false],
    ['an instance of Settings', new Settings()],
    ['an instance of Empty', new Empty()],
    ['an instance of Date', new Date(0)],
    ['an instance of Map', new Map()],
  ];
  for (const [given, input] of notPlain) {
    it(`refuses ${given}, saying what it got and what it expects`, async () => {
      const error = await rejection(parseConfig(noConfig, input, 'modules.m.config'));
      expect(error.code).toBe('VLAB_ERR_CONFIG_INVALID');
      expect(error.details['issues']).toEqual([
        `modules.m.config: this module takes no configuration: expected no value or an empty object {}, got ${given}`,
      ]);
    });
  }
});
