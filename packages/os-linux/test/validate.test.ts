import { isVlabError, type ReservationUser, Secret } from '@vlab/core';
import { describe, expect, it } from 'vitest';
import {
  assertHostname,
  assertNetwork,
  assertPublicKey,
  assertReservationUsers,
} from '../src/validate.js';

const KEY =
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFqD0cq5v3q1YDGm8Rj0PZsDaP5k+0jvKx2FqJ1o2tCu alice@lab';
const user: ReservationUser = {
  login: 'alice',
  sshKeys: [KEY],
  admin: false,
  allowFrom: ['192.0.2.7'],
};

function refusal(work: () => unknown): string {
  try {
    work();
  } catch (error) {
    expect(isVlabError(error, 'VLAB_ERR_CONFIG_INVALID')).toBe(true);
    expect((error as { computer?: string }).computer).toBe('c1');
    return (error as Error).message;
  }
  throw new Error('accepted');
}

describe('reservation users', () => {
  it('accepts a plain user and returns the networks to open', () => {
    expect(assertReservationUsers([user], 'c1')).toEqual([{ family: 4, text: '192.0.2.7' }]);
  });

  it.each([
    ["x'; rm -rf / #", 'shell metacharacters'],
    ['eve\nroot', 'a newline'],
    ['évé', 'unicode'],
    ['Alice', 'upper case'],
    ['-rf', 'a leading dash (an option to useradd)'],
    ['a'.repeat(33), '33 characters'],
    ['', 'nothing'],
    ['root', 'a reserved name'],
  ])('refuses the login %j (%s)', (login) => {
    expect(refusal(() => assertReservationUsers([{ ...user, login }], 'c1'))).toMatch(/login/);
  });

  it('refuses a login or uid given twice, and uids outside the users range', () => {
    expect(refusal(() => assertReservationUsers([user, user], 'c1'))).toMatch(/twice/);
    const bob = { ...user, login: 'bob' };
    expect(
      refusal(() =>
        assertReservationUsers(
          [
            { ...user, uid: 2000 },
            { ...bob, uid: 2000 },
          ],
          'c1',
        ),
      ),
    ).toMatch(/two users/);
    for (const uid of [0, 999, 60001, 65534, 1000.5])
      expect(refusal(() => assertReservationUsers([{ ...user, uid }], 'c1'))).toMatch(/uid/);
  });

  it('stores full names literally but refuses what /etc/passwd cannot hold', () => {
    const literal = `O'Brien "Al" $(reboot) \`id\` ; rm -rf / # ✓ Ünïcødé, Room 1`;
    expect(() => assertReservationUsers([{ ...user, fullName: literal }], 'c1')).not.toThrow();
    for (const fullName of [
      'Eve\nroot::0:0::/:/bin/sh',
      'Eve:0',
      'tab\there',
      'x\u2028y',
      'a'.repeat(201),
    ])
      expect(refusal(() => assertReservationUsers([{ ...user, fullName }], 'c1'))).toMatch(
        /full name/,
      );
  });

  it('refuses passwords chpasswd cannot take, without ever showing them', () => {
    for (const value of ['', 'a\nroot:x', 'cr\rhere', 'nul\0here']) {
      const message = refusal(() =>
        assertReservationUsers([{ ...user, password: new Secret(value, 'pw') }], 'c1'),
      );
      expect(message).toMatch(/password of "alice"/);
      if (value !== '') expect(message).not.toContain(value);
    }
    const hostile = new Secret(`'; rm -rf / #"$(x)\\ ✓ пароль:with:colons`, 'pw');
    expect(() => assertReservationUsers([{ ...user, password: hostile }], 'c1')).not.toThrow();
  });

  it('refuses keys with options, a second line, an unknown type or a damaged body', () => {
    for (const key of [
      `command="sh" ${KEY}`,
      `${KEY}\nssh-ed25519 AAAA evil`,
      'ssh-dss AAAAB3NzaC1kc3MAAACBAP',
      'ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQABAAABAQ', // an RSA body under an ed25519 type
      'ssh-ed25519 not-base64!',
    ])
      expect(refusal(() => assertPublicKey(key, 'c1', 'the key'))).toMatch(/the key/);
    expect(() => assertPublicKey(KEY, 'c1', 'the key')).not.toThrow();
  });

  it("takes an address or prefix by core's rule, and refuses anything else as invalid config", () => {
    expect(assertNetwork('192.0.2.9/32', 'c1', 'x')).toEqual({ family: 4, text: '192.0.2.9' });
    expect(refusal(() => assertNetwork('1.2.3.4; nft flush ruleset', 'c1', 'allowFrom'))).toMatch(
      /allowFrom "1\.2\.3\.4; nft flush ruleset" is not an IP address/,
    );
  });

  it('takes host names of DNS labels only', () => {
    expect(() => assertHostname('c1', 'c1')).not.toThrow();
    expect(() => assertHostname('node-7.lab.example.org', 'c1')).not.toThrow();
    for (const bad of ['-x', 'x_y', 'a b', 'x;reboot', '', `${'a'.repeat(64)}.org`])
      expect(refusal(() => assertHostname(bad, 'c1'))).toMatch(/host name/);
  });
});
