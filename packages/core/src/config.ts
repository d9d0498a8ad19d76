import type { StandardSchemaV1 } from '@standard-schema/spec';
import { coreError } from './errors/core-errors.js';

/**
 * One wrong key of a configuration, as {@link parseConfig} reports it in the error's
 * `details.fields`: where it is (for the manager to point at a file, line and column) and what is
 * wrong with it. @public
 */
export interface ConfigIssue {
  /**
   * The key path from the root of the configuration file: the keys of `where`, then the schema
   * issue's own path (strings for object keys, numbers for array indices). `[]` at the root.
   */
  readonly path: readonly (string | number)[];
  /** What is wrong, as the schema said it. */
  readonly message: string;
}

/**
 * Validates `input` against a Standard Schema (zod 4, valibot, arktype … all implement it), so
 * core forces no validator on module authors. Throws `VLAB_ERR_CONFIG_INVALID` whose message names
 * each wrong key, prefixed with `where` (`modules.os-linux.config`).
 *
 * @remarks
 * The error's `details.issues` holds one line per wrong key (`<dotted path>: <message>`), and
 * since contract 1.1 `details.fields` holds the same issues as {@link ConfigIssue} objects, each
 * with its key path as an array, so a caller can find the key in the file it read.
 * @param where - The config path of `input`, prefixed to every key: an array of keys
 * (`['modules', 'os-linux', 'config']`, exact), or a dotted string (split at each `.`).
 * @returns The schema's output (with its defaults and transforms applied).
 * @public
 */
export async function parseConfig<Output>(
  schema: StandardSchemaV1<unknown, Output>,
  input: unknown,
  where: string | readonly (string | number)[],
): Promise<Output> {
  const result = await schema['~standard'].validate(input);
  if (result.issues === undefined) return result.value;
  const prefix = typeof where === 'string' ? (where === '' ? [] : where.split('.')) : [...where];
  const fields: ConfigIssue[] = result.issues.map((issue) => ({
    path: [...prefix, ...keysOf(issue.path)],
    message: issue.message,
  }));
  const lines = fields.map((field) => `${field.path.join('.')}: ${field.message}`);
  throw coreError('VLAB_ERR_CONFIG_INVALID', `invalid configuration: ${lines.join('; ')}`, {
    details: { issues: lines, fields },
  });
}

/**
 * A schema for modules that take no configuration: accepts no value (`undefined`) or an empty plain
 * object (`{}`). Anything else — a key, `null`, an array, a string, a class instance — is refused
 * (`VLAB_ERR_CONFIG_INVALID` through {@link parseConfig}), with a message saying what was given.
 * @public
 */
export const noConfig: StandardSchemaV1<unknown, Record<string, never>> = {
  '~standard': {
    version: 1,
    vendor: 'vlab',
    validate(value) {
      if (value === undefined) return { value: {} };
      if (isPlainObject(value) && Object.keys(value).length === 0) return { value: {} };
      return {
        issues: [
          {
            message: `this module takes no configuration: expected no value or an empty object {}, got ${describeValue(value)}`,
          },
        ],
      };
    },
  },
};

/** An object literal or `Object.create(null)`, of any realm: its prototype, if any, is a root one. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === null || Object.getPrototypeOf(prototype) === null;
}

/** What a config value is, for a message; never its content (which may hold a secret). */
function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (isPlainObject(value)) return `an object with keys ${Object.keys(value).join(', ')}`;
  if (typeof value === 'object') {
    const name: unknown = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } })
      .constructor?.name;
    return typeof name === 'string' && name !== '' ? `an instance of ${name}` : 'a class instance';
  }
  return `a ${typeof value}`;
}

function keysOf(path: StandardSchemaV1.Issue['path']): (string | number)[] {
  return (path ?? []).map((segment) => {
    const key = typeof segment === 'object' ? segment.key : segment;
    return typeof key === 'number' ? key : String(key);
  });
}
