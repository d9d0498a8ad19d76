import { posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readAccounts } from '../src/guest-accounts.js';
import type { GuestFiles } from '../src/guest-root.js';

/** A guest's files in memory: path → content (directories are implied by their files). */
function memoryFiles(files: Record<string, string>): GuestFiles {
  return {
    async read(path) {
      const text = files[path];
      return text === undefined ? undefined : Buffer.from(text);
    },
    async list(path) {
      const names = Object.keys(files)
        .filter((p) => posix.dirname(p) === path)
        .map((p) => posix.basename(p));
      return names.length === 0 ? undefined : names.sort();
    },
  };
}

const PASSWD = [
  'root:x:0:0:root:/root:/bin/bash',
  'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
  'ann:x:1000:1000::/home/ann:/bin/bash',
  'ben:x:1001:1001::/home/ben:/bin/bash',
  'cat:x:1002:1002::/home/cat:/bin/bash',
  'dan:x:1003:4000::/home/dan:/bin/bash',
  'eve:x:1004:1004::/home/eve:/bin/bash',
  'fay:x:1005:1005::/home/fay:/bin/bash',
  'gus:$6$salt$hash:1006:1006::/home/gus:/bin/bash',
  'hal:x:1007:1007::/home/hal:/bin/bash',
  'ivy:x:1008:1008::/home/ivy:/bin/bash',
  '',
].join('\n');

const GROUP = [
  'root:x:0:',
  'daemon:x:1:',
  'wheel:x:10:ben',
  'sudo:x:27:',
  'ann:x:1000:',
  'ben:x:1001:',
  'cat:x:1002:',
  'eve:x:1004:',
  'fay:x:1005:',
  'gus:x:1006:',
  'hal:x:1007:',
  'ivy:x:1008:',
  'ops:x:2000:cat,eve',
  'domain users:x:2001:fay',
  '',
].join('\n');

const SHADOW = [
  'root:*:19000:0:99999:7:::',
  'daemon:*:19000:0:99999:7:::',
  'ann:$y$j9T$abc$def:19000:0:99999:7:::',
  'ben:!$y$j9T$abc$def:19000:0:99999:7:::',
  'cat::19000:0:99999:7:::',
  'dan:!*:19000:0:99999:7:::',
  'eve:!:19000:0:99999:7:::',
  '',
].join('\n');

describe('accounts read from a guest’s files', () => {
  it('gives groups, admin rights and password state the way the guest would', async () => {
    const files = memoryFiles({
      '/etc/passwd': PASSWD,
      '/etc/group': GROUP,
      '/etc/shadow': SHADOW,
      '/etc/sudoers': [
        'Defaults\tenv_reset',
        'Defaults:ann !requiretty',
        'root\tALL=(ALL:ALL) ALL',
        '%sudo\tALL=(ALL:ALL) ALL',
        '# ann ALL=(ALL) ALL  (a comment)',
        'Cmnd_Alias ANN = /usr/bin/ann',
        '@includedir sudoers.d',
        '#include /etc/sudoers.local',
        '',
      ].join('\n'),
      // Skipped by sudo: a name with a dot, a name ending in ~.
      '/etc/sudoers.d/ann.disabled': 'ann ALL=(ALL) ALL\n',
      '/etc/sudoers.d/ann~': 'ann ALL=(ALL) ALL\n',
      // A group rule, a continued line, a negated member of an alias.
      '/etc/sudoers.d/ops': 'User_Alias OPS = %ops, \\\n  !eve\nOPS ALL = /usr/bin/id\n',
      // Numeric ids and a quoted group name with a space.
      '/etc/sudoers.d/ids':
        '#1007 ALL=(ALL) ALL\n%#4000 ALL=(ALL) ALL\n"%domain users" ALL=(ALL) ALL\n',
      '/etc/sudoers.local': 'User_Alias LOOP = LOOP, ivy\nLOOP ALL=(ALL) ALL\n',
    });
    const accounts = await readAccounts(files);
    const by = new Map(accounts.map((a) => [a.login, a]));
    expect(accounts.map((a) => a.login)).toEqual([
      'root',
      'daemon',
      'ann',
      'ben',
      'cat',
      'dan',
      'eve',
      'fay',
      'gus',
      'hal',
      'ivy',
    ]);
    expect(by.get('root')).toEqual({
      login: 'root',
      uid: 0,
      groups: ['root'],
      admin: true,
      hasPassword: false,
    });
    expect(by.get('daemon')).toMatchObject({ admin: false, hasPassword: false });
    expect(by.get('ann')).toMatchObject({ groups: ['ann'], admin: false, hasPassword: true });
    expect(by.get('ben')).toMatchObject({
      groups: ['ben', 'wheel'],
      admin: true,
      hasPassword: false,
    });
    expect(by.get('cat')).toMatchObject({
      groups: ['cat', 'ops'],
      admin: true,
      hasPassword: false,
    });
    // An unnamed primary group is its number; %#gid names it.
    expect(by.get('dan')).toMatchObject({ groups: ['4000'], admin: true, hasPassword: false });
    expect(by.get('eve')).toMatchObject({ groups: ['eve', 'ops'], admin: false });
    expect(by.get('fay')).toMatchObject({ groups: ['domain users', 'fay'], admin: true });
    // No shadow line: the password field of passwd itself.
    expect(by.get('gus')).toMatchObject({ admin: false, hasPassword: true });
    expect(by.get('hal')).toMatchObject({ admin: true, hasPassword: false });
    // A User_Alias that names itself does not loop.
    expect(by.get('ivy')).toMatchObject({ admin: true });
  });

  it('reads no sudoers.d without an includedir, and a guest without sudo has no rules', async () => {
    const base = { '/etc/passwd': PASSWD, '/etc/group': GROUP, '/etc/shadow': SHADOW };
    const withoutInclude = await readAccounts(
      memoryFiles({
        ...base,
        '/etc/sudoers': 'root ALL=(ALL) ALL\n',
        '/etc/sudoers.d/ann': 'ann ALL=(ALL) ALL\n',
      }),
    );
    expect(withoutInclude.find((a) => a.login === 'ann')?.admin).toBe(false);
    const noSudo = await readAccounts(memoryFiles(base));
    expect(noSudo.filter((a) => a.admin).map((a) => a.login)).toEqual(['root', 'ben']);
  });
});
