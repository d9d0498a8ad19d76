import { describe, expect, it } from 'vitest';
import { commandFailedError, coreError } from '../../src/errors/core-errors.js';
import { isVlabError, VlabError } from '../../src/errors/vlab-error.js';

describe('isVlabError', () => {
  it('recognises a VlabError, with or without the code asked for', () => {
    const error = coreError('VLAB_ERR_IMAGE_NOT_FOUND', 'no image base@9');
    expect(isVlabError(error)).toBe(true);
    expect(isVlabError(error, 'VLAB_ERR_IMAGE_NOT_FOUND')).toBe(true);
    expect(isVlabError(error, 'VLAB_ERR_IMAGE_EXISTS')).toBe(false);
    const failed = commandFailedError(['cp'], { code: 1, stderr: Buffer.alloc(0) }, 'node1');
    expect(isVlabError(failed, 'VLAB_ERR_COMMAND_FAILED')).toBe(true);
    expect(isVlabError(failed, 'VLAB_ERR_X')).toBe(false);
    expect(isVlabError(new VlabError('VLAB_ERR_PKG_THING', 'own code', { hint: 'h' }))).toBe(true);
  });

  it('carries the brand Symbol.for("vlab.error"), non-enumerable', () => {
    const error = coreError('VLAB_ERR_OP_TIMEOUT', 'slow');
    const brand = Symbol.for('vlab.error');
    expect((error as unknown as Record<symbol, unknown>)[brand]).toBe(true);
    expect(Object.getOwnPropertyDescriptor(error, brand)?.enumerable).toBe(false);
    expect(Object.keys(error)).not.toContain(brand.toString());
  });

  it('recognises a branded error from a second copy of @vlab/core (the brand is a registered symbol)', () => {
    // What a VlabError of another copy looks like: another class, the same registered symbol.
    class OtherCopyError extends Error {
      readonly code = 'VLAB_ERR_OP_CANCELLED';
      constructor() {
        super('VLAB_ERR_OP_CANCELLED: stopped');
        Object.defineProperty(this, Symbol.for('vlab.error'), { value: true });
      }
    }
    expect(isVlabError(new OtherCopyError(), 'VLAB_ERR_OP_CANCELLED')).toBe(true);
  });

  it('refuses a plain object or Error that only has a VLAB_ERR_ code', () => {
    expect(isVlabError({ code: 'VLAB_ERR_X_Y' })).toBe(false);
    expect(isVlabError({ code: 'VLAB_ERR_X_Y' }, 'VLAB_ERR_X_Y')).toBe(false);
    expect(isVlabError(Object.assign(new Error('boom'), { code: 'VLAB_ERR_OP_TIMEOUT' }))).toBe(
      false,
    );
    // A local (unregistered) symbol of the same description is no brand.
    expect(isVlabError({ code: 'VLAB_ERR_X_Y', [Symbol('vlab.error')]: true })).toBe(false);
    expect(isVlabError({ [Symbol.for('vlab.error')]: 'yes', code: 'VLAB_ERR_X_Y' })).toBe(false);
    expect(isVlabError(undefined)).toBe(false);
    expect(isVlabError('VLAB_ERR_X_Y')).toBe(false);
  });
});
