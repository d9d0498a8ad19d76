import { describe, expect, it } from 'vitest';
import { assertSpeaksContract, CONTRACT_VERSION, speaksContract } from '../src/contract-version.js';
import { isVlabError, type VlabError } from '../src/errors/vlab-error.js';

function thrown(fn: () => void): VlabError {
  try {
    fn();
  } catch (error) {
    if (isVlabError(error)) return error;
    throw error;
  }
  throw new Error('expected a throw');
}

describe('speaksContract', () => {
  it('is 1.1.0', () => {
    expect(CONTRACT_VERSION).toBe('1.1.0');
  });

  it('accepts ranges that include the contract version', () => {
    expect(speaksContract('^1.0.0')).toBe(true);
    expect(speaksContract('1.x')).toBe(true);
    expect(speaksContract('>=1.0.0 <3')).toBe(true);
    // A module written against 1.0 speaks 1.1: the minor only added.
    expect(speaksContract('^1.1.0')).toBe(true);
  });

  it('refuses ranges that do not', () => {
    expect(speaksContract('^2.0.0')).toBe(false);
    expect(speaksContract('^0.9.0')).toBe(false);
    expect(speaksContract('^1.2.0')).toBe(false);
  });

  it('refuses an invalid range instead of throwing', () => {
    expect(speaksContract('not a range')).toBe(false);
    expect(speaksContract('^1.0.0', '1.4.2')).toBe(true);
    expect(speaksContract('^1.0.0', '2.0.0')).toBe(false);
  });
});

describe('assertSpeaksContract', () => {
  it('passes a module speaking the contract', () => {
    expect(() => assertSpeaksContract({ name: 'os-linux', contract: '^1.0.0' })).not.toThrow();
  });

  it('throws VLAB_ERR_MODULE_INVALID for an invalid range', () => {
    const error = thrown(() => assertSpeaksContract({ name: 'os-linux', contract: 'banana' }));
    expect(error.code).toBe('VLAB_ERR_MODULE_INVALID');
    expect(error.message).toContain('os-linux');
    expect(error.message).toContain('"banana"');
  });

  it('throws VLAB_ERR_MODULE_CONTRACT_MISMATCH naming both versions', () => {
    const error = thrown(() => assertSpeaksContract({ name: 'os-linux', contract: '^2.0.0' }));
    expect(error.code).toBe('VLAB_ERR_MODULE_CONTRACT_MISMATCH');
    expect(error.message).toContain('os-linux');
    expect(error.message).toContain('^2.0.0');
    expect(error.message).toContain(CONTRACT_VERSION);
    expect(error.details).toEqual({
      module: 'os-linux',
      moduleRange: '^2.0.0',
      coreContract: '1.1.0',
    });
  });
});
