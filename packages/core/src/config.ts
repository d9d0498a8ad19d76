import type { StandardSchemaV1 } from '@standard-schema/spec';
import { coreError } from './errors/core-errors.js';

/**
 * Validates `input` against a Standard Schema (zod 4, valibot, arktype … all implement it), so
 * core forces no validator on module authors. Throws `VLAB_ERR_CONFIG_INVALID` whose message names
 * each wrong key, prefixed with `where` (`modules.os-linux.config`).
 * @param where - The config path of `input`, prefixed to every key in the message.
 * @returns The schema's output (with its defaults and transforms applied).
 * @public
 */
export async function parseConfig<Output>(
  schema: StandardSchemaV1<unknown, Output>,
  input: unknown,
  where: string,
): Promise<Output> {
  const result = await schema['~standard'].validate(input);
  if (result.issues === undefined) return result.value;
  const lines = result.issues.map((issue) => `${joinPath(where, issue.path)}: ${issue.message}`);
  throw coreError('VLAB_ERR_CONFIG_INVALID', `invalid configuration: ${lines.join('; ')}`, {
    details: { issues: lines },
  });
}

/** A schema for modules that take no configuration: accepts `undefined`, `null` or `{}` only. @public */
export const noConfig: StandardSchemaV1<unknown, Record<string, never>> = {
  '~standard': {
    version: 1,
    vendor: 'vlab',
    validate(value) {
      if (value === undefined || value === null) return { value: {} };
      if (typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0)
        return { value: {} };
      return { issues: [{ message: 'this module takes no configuration' }] };
    },
  },
};

function joinPath(where: string, path: StandardSchemaV1.Issue['path']): string {
  const keys = (path ?? []).map((segment) =>
    String(typeof segment === 'object' ? segment.key : segment),
  );
  return [where, ...keys].join('.');
}
