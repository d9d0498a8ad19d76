import { isVlabError } from '@vlab/core';
import { describe, expect, it } from 'vitest';
import { ImageStore, isValidImageName, isValidRevision } from '../src/index.js';

describe('names and revisions', () => {
  it('accepts the documented names and positive integer revisions', () => {
    for (const name of ['debian-12', 'a', '0', 'win11_pro.v2', 'x-y.z_1'])
      expect(isValidImageName(name), name).toBe(true);
    for (const name of [
      '',
      'A',
      '.hidden',
      '-x',
      '_x',
      'a..b',
      'a/b',
      'a b',
      'ü',
      'x'.repeat(129),
      7,
    ])
      expect(isValidImageName(name), String(name)).toBe(false);
    for (const revision of [1, 2, 10_000]) expect(isValidRevision(revision)).toBe(true);
    for (const revision of [0, -1, 1.5, Number.NaN, '1', 2 ** 53])
      expect(isValidRevision(revision)).toBe(false);
  });

  it('refuses an invalid name or revision with VLAB_ERR_ARGUMENT_INVALID naming the store', async () => {
    const store = ImageStore.local('/nonexistent/vlab-store');
    for (const call of [
      () => store.reserve({ name: '../etc', revision: 1 }),
      () => store.reserve({ name: 'ok', revision: 0 }),
      () => store.exists({ name: 'Bad' }),
      () => store.delete({ name: 'ok', revision: 1.5 }),
    ]) {
      let error: unknown;
      try {
        await call();
      } catch (caught) {
        error = caught;
      }
      expect(isVlabError(error, 'VLAB_ERR_ARGUMENT_INVALID'), String(error)).toBe(true);
      expect(String(error)).toContain('/nonexistent/vlab-store');
    }
  });

  it('refuses a relative or unnormalized root with VLAB_ERR_CONFIG_INVALID', () => {
    for (const root of ['images', '/srv/../images', '/srv/images/'])
      expect(() => ImageStore.local(root)).toThrow(/VLAB_ERR_CONFIG_INVALID/);
  });
});
