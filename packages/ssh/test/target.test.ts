import { Secret } from '@vlab/core';
import { describe, expect, it } from 'vitest';
import { type SshTarget, targetKey } from '../src/target.js';

const base: SshTarget = {
  host: '10.0.0.12',
  user: 'vlab',
  auth: { kind: 'key', privateKey: new Secret('KEY-MATERIAL'), passphrase: new Secret('PASS-1') },
};

describe('targetKey (how the pool groups connections)', () => {
  it('is the same for the same login, and differs when any credential differs', () => {
    const same: SshTarget = {
      ...base,
      auth: {
        kind: 'key',
        privateKey: new Secret('KEY-MATERIAL'),
        passphrase: new Secret('PASS-1'),
      },
      computer: 'another name',
    };
    expect(targetKey(same)).toBe(targetKey(base));
    const variants: SshTarget[] = [
      { ...base, auth: { kind: 'key', privateKey: new Secret('KEY-MATERIAL') } },
      {
        ...base,
        auth: { kind: 'key', privateKey: new Secret('KEY-MATERIAL'), passphrase: new Secret('') },
      },
      {
        ...base,
        auth: {
          kind: 'key',
          privateKey: new Secret('KEY-MATERIAL'),
          passphrase: new Secret('PASS-2'),
        },
      },
      {
        ...base,
        auth: { kind: 'key', privateKey: new Secret('OTHER'), passphrase: new Secret('PASS-1') },
      },
      { ...base, auth: { kind: 'password', password: new Secret('PASS-1') } },
      { ...base, auth: { kind: 'agent', socket: '/run/agent' } },
      { ...base, user: 'root' },
      { ...base, host: '10.0.0.13' },
      { ...base, port: 2222 },
      { ...base, hostKeyAlias: 'node12' },
      { ...base, via: { ...base, host: 'gateway' } },
    ];
    const keys = new Set([targetKey(base), ...variants.map(targetKey)]);
    expect(keys.size).toBe(variants.length + 1);
    // No user or host name can make two logins read the same.
    expect(targetKey({ ...base, user: 'a@b', host: 'c' })).not.toBe(
      targetKey({ ...base, user: 'a', host: 'b@c' }),
    );
  });

  it('holds no secret in clear', () => {
    const key = targetKey({ ...base, via: base });
    expect(key).not.toContain('KEY-MATERIAL');
    expect(key).not.toContain('PASS-1');
    expect(
      targetKey({ ...base, auth: { kind: 'password', password: new Secret('PW') } }),
    ).not.toMatch(/PW/);
  });
});
