import { Secret } from '@vlab/core';
import { describe, expect, it } from 'vitest';
import { distinctSecrets } from '../src/distinct-secrets.js';

describe('distinctSecrets', () => {
  it('keeps the fixed secrets first and adds each resolved value once', () => {
    const password = new Secret('pw-1', 'password of alice');
    const key = new Secret('key-1', 'management key');
    const resolved = [
      new Secret('pw-1', 'the same password, resolved from a file'),
      new Secret('ipmi-2', 'bmc password'),
      new Secret('ipmi-2', 'bmc password again'),
    ];
    const all = distinctSecrets([password, key], resolved);
    expect(all.map((s) => s.reveal())).toEqual(['pw-1', 'key-1', 'ipmi-2']);
    expect(all[0]).toBe(password);
  });
});
