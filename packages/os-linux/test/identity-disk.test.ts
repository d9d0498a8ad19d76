import { execFileSync } from 'node:child_process';
import { IDENTITY_DISK } from '@vlab/core';
import { describe, expect, it } from 'vitest';
import { IDENTITY_SCRIPT, IDENTITY_UNIT, IDENTITY_UNIT_TEXT } from '../src/identity-disk.js';
import { GUEST_PATHS } from '../src/paths.js';

// The script itself runs against real disks in identity-script.lab.test.ts (root, loop devices).
describe('the identity disk unit and script', () => {
  const unit = Object.fromEntries(
    IDENTITY_UNIT_TEXT.split('\n')
      .filter((line) => line.includes('='))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );

  it('runs the script early at every boot, before the SSH server in any form', () => {
    expect(IDENTITY_UNIT).toBe('vlab-identity.service');
    expect(unit['ExecStart']).toBe(`/bin/sh ${GUEST_PATHS.identityScript}`);
    expect(unit['Type']).toBe('oneshot');
    expect(unit['DefaultDependencies']).toBe('no');
    expect(unit['After']).toBe('local-fs.target');
    // sysinit.target: reached at every boot, containers (nspawn) included.
    expect(unit['WantedBy']).toBe('sysinit.target');
    const before = (unit['Before'] ?? '').split(' ');
    for (const name of [
      'sysinit.target',
      'ssh.service',
      'sshd.service',
      'ssh.socket',
      'sshd.socket',
      'vlab-ssh-host-keys.service',
    ])
      expect(before).toContain(name);
    // No environment: the test override of the key directory never applies at boot.
    expect(IDENTITY_UNIT_TEXT).not.toMatch(/Environment/);
  });

  it('writes into /etc/ssh unless a test says otherwise, and never mounts the disk', () => {
    expect(IDENTITY_SCRIPT).toContain(`\nssh_dir=\${VLAB_IDENTITY_SSH_DIR:-/etc/ssh}\n`);
    expect(IDENTITY_SCRIPT).toContain(`\nlabel=${IDENTITY_DISK.label}\n`);
    expect(IDENTITY_SCRIPT).toContain('blkid -L "$label"');
    expect(IDENTITY_SCRIPT).not.toMatch(/\bmount\b|\/dev\/disk\/by-label/);
    expect(IDENTITY_SCRIPT.startsWith('#!/bin/sh\n')).toBe(true);
    execFileSync('sh', ['-n', '-c', IDENTITY_SCRIPT]);
  });
});
