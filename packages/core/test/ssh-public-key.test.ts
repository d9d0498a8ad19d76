import { describe, expect, it } from 'vitest';
import { generateHostKey } from '../src/host-key.js';
import { SSH_PUBLIC_KEY_TYPES, sshPublicKeyProblem } from '../src/ssh-public-key.js';

const KEY = `${generateHostKey().publicKey.split(' ').slice(0, 2).join(' ')} alice@lab`;

describe('sshPublicKeyProblem', () => {
  it('accepts a one-line OpenSSH key of a known type, with or without a comment', () => {
    expect(sshPublicKeyProblem(KEY, 'the key')).toBeUndefined();
    expect(sshPublicKeyProblem(KEY.split(' ').slice(0, 2).join(' '), 'the key')).toBeUndefined();
    expect(sshPublicKeyProblem(`${KEY} ünïcödé`, 'the key')).toBeUndefined();
    expect(SSH_PUBLIC_KEY_TYPES.has('ssh-ed25519')).toBe(true);
  });

  it.each([
    ['options before the key', `command="sh" ${KEY}`, /of a known type/],
    ['a second line', `${KEY}\nssh-ed25519 AAAA evil`, /line break/],
    ['a carriage return', `${KEY}\r`, /line break/],
    ['NUL', `${KEY}\u0000`, /control character/],
    ['a line separator', `${KEY}\u2028`, /line break/],
    [
      'an unknown type',
      'ssh-dss AAAAB3NzaC1kc3MAAACBAP',
      /of a known type \(it starts "ssh-dss"\)/,
    ],
    ['an RSA body under an ed25519 type', 'ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQABAAABAQ', /damaged/],
    ['a body that is not base64', 'ssh-ed25519 not-base64!', /damaged/],
    ['a comment over 256 characters', `${KEY} ${'c'.repeat(250)}`, /comment over 256/],
    ['shell metacharacters', "'; rm -rf / #", /of a known type/],
  ])('refuses %s, naming the key', (_what, line, reason) => {
    const problem = sshPublicKeyProblem(line, 'SSH key 2 of "alice"');
    expect(problem).toMatch(/^SSH key 2 of "alice" /);
    expect(problem).toMatch(reason);
  });
});
