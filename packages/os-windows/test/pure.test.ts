import { Secret } from '@vlab/core';
import { describe, expect, it } from 'vitest';
import { sessionIds } from '../src/accounts.js';
import { generatePassword } from '../src/password.js';
import { sshdConfigWithUserKeys, VLAB_KEYS_PATTERN } from '../src/sshd-config.js';
import { relevantLogLines } from '../src/sysprep.js';
import { withLines, withoutLines } from '../src/text-lines.js';
import { hiddenPassword, unattendXml } from '../src/unattend.js';
import { computerNameOf } from '../src/validate.js';

// The default sshd_config of OpenSSH for Windows ends with this block.
const DEFAULT_SSHD_CONFIG = [
  '#AuthorizedKeysFile\t.ssh/authorized_keys',
  'Subsystem\tsftp\tsftp-server.exe',
  'Match Group administrators',
  '       AuthorizedKeysFile __PROGRAMDATA__/ssh/administrators_authorized_keys',
  '',
].join('\r\n');

describe('sshd_config', () => {
  it('names the users\u2019 key files globally and for administrators, once', () => {
    const next = sshdConfigWithUserKeys(DEFAULT_SSHD_CONFIG);
    expect(next.split('\r\n')).toEqual([
      '#AuthorizedKeysFile\t.ssh/authorized_keys',
      'Subsystem\tsftp\tsftp-server.exe',
      `AuthorizedKeysFile .ssh/authorized_keys ${VLAB_KEYS_PATTERN}`,
      'Match Group administrators',
      `       AuthorizedKeysFile __PROGRAMDATA__/ssh/administrators_authorized_keys ${VLAB_KEYS_PATTERN}`,
      '',
    ]);
    expect(sshdConfigWithUserKeys(next)).toBe(next);
  });
});

describe('quser output', () => {
  it('finds the session ids of one user, active and disconnected, whatever the header language', () => {
    const out = [
      ' BENUTZERNAME          SITZUNGSNAME       ID  STATUS  LEERLAUF   ANMELDEZEIT',
      '>administrator         rdp-tcp#0           2  Aktiv          .  29.11.2026 10:00',
      ' alice                 rdp-tcp#1           3  Aktiv          5  29.11.2026 10:05',
      ' alice                                     4  Getr.          5  29.11.2026 09:05',
      ' alicex                                    5  Getr.          5  29.11.2026 09:05',
    ].join('\r\n');
    expect(sessionIds(out, 'alice')).toEqual([3, 4]);
    expect(sessionIds('', 'alice')).toEqual([]);
  });
});

describe('sysprep logs', () => {
  it('keeps setuperr.log\u2019s end and setupact.log\u2019s error lines', () => {
    const logs = relevantLogLines(
      ['', 'Error SYSPRP x'],
      ['Info a', 'Error b', 'Info hr = 0x80073cf2'],
    );
    expect(logs).toEqual({
      setuperr: ['Error SYSPRP x'],
      setupact: ['Error b', 'Info hr = 0x80073cf2'],
    });
  });
});

describe('text lines', () => {
  it('adds and removes whole lines, keeping CRLF and the bytes when nothing changes', () => {
    expect(withLines('', ['a'])).toBe('a\r\n');
    expect(withLines('a\r\n', ['a', 'b'])).toBe('a\r\nb\r\n');
    expect(withLines('a\r\n', ['a'])).toBe('a\r\n');
    expect(withoutLines('a\r\nb\r\n', ['a'])).toBe('b\r\n');
  });
});

describe('the answer file', () => {
  it('hides the password as Windows SIM does and escapes settings', () => {
    expect(hiddenPassword('pw')).toBe(
      Buffer.from('pwAdministratorPassword', 'utf16le').toString('base64'),
    );
    const xml = unattendXml({
      architecture: 'amd64',
      locale: 'de-DE',
      timeZone: 'W. Europe Standard Time',
      administratorPassword: new Secret('s3cret<&>', 'x'),
    });
    expect(xml).not.toContain('s3cret');
    for (const pass of ['generalize', 'specialize', 'oobeSystem'])
      expect(xml).toContain(`<settings pass="${pass}">`);
    expect(xml).toContain('<UILanguage>de-DE</UILanguage>');
    expect(xml).toMatch(/^[\x20-\x7e\r\n]*$/);
  });
});

describe('names and passwords', () => {
  it('takes the NetBIOS name from the host name', () => {
    expect(computerNameOf('lab-pc-07.example.org', 'c')).toBe('lab-pc-07');
    for (const bad of ['1234', 'a-very-long-name-x', 'a_b', '-a', ''])
      expect(() => computerNameOf(bad, 'c'), bad).toThrow(/VLAB_ERR_CONFIG_INVALID/);
  });

  it('generates complex passwords', () => {
    for (let i = 0; i < 50; i += 1) {
      const value = generatePassword('t').reveal();
      expect(value).toHaveLength(24);
      for (const set of [/[A-Z]/, /[a-z]/, /[0-9]/, /[-_.!#%+=]/]) expect(value).toMatch(set);
    }
  });
});
