import { describe, expect, it } from 'vitest';
import { DEFAULT_END_STATE, requestedEndState } from '../src/end-state.js';
import { isVlabError } from '../src/errors/vlab-error.js';

describe('requestedEndState', () => {
  it('gives the requested end state, or the default when none was asked for', () => {
    expect(requestedEndState('reboot', ['off', 'reboot'], 'os-x', 'c1')).toBe('reboot');
    expect(requestedEndState(undefined, ['off'], 'os-x', 'c1')).toBe(DEFAULT_END_STATE);
  });

  it('refuses one the module does not offer, naming the module, the end state and the offer', () => {
    let error: unknown;
    try {
      requestedEndState('on', ['off', 'reboot'], 'os-x', 'c1');
    } catch (e) {
      error = e;
    }
    expect(isVlabError(error, 'VLAB_ERR_CAPABILITY_MISSING')).toBe(true);
    expect((error as Error).message).toContain(
      'os-x does not offer the end state "on" (it offers off, reboot)',
    );
    expect((error as { computer?: string }).computer).toBe('c1');
  });
});
