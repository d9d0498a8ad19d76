import { isVlabError, type VlabError } from '@vlab/core';
import { parseManagerConfig } from '../src/config/config-file.js';

/** The error `work` throws or rejects with, which must be a vlab error. */
export async function failure(work: Promise<unknown> | (() => unknown)): Promise<VlabError> {
  let error: unknown;
  try {
    await (typeof work === 'function' ? work() : work);
  } catch (caught) {
    error = caught;
  }
  if (error === undefined) throw new Error('expected an error');
  if (!isVlabError(error)) throw new Error(`expected a vlab error, got ${String(error)}`);
  return error;
}

/** The vlab error `parseManagerConfig` throws for `text` (as file `vlab.yaml`). */
export function parseFails(text: string): VlabError {
  try {
    parseManagerConfig(text, 'vlab.yaml');
  } catch (error) {
    if (isVlabError(error)) return error;
    throw error;
  }
  throw new Error('expected an error');
}

/** `line:column` (1-based) of the first `needle` in `text`, plus `shift` columns. */
export function place(text: string, needle: string, shift = 0): string {
  const index = text.indexOf(needle);
  if (index === -1) throw new Error(`${needle} is not in the text`);
  const before = text.slice(0, index).split('\n');
  return `${before.length}:${(before.at(-1) ?? '').length + 1 + shift}`;
}
