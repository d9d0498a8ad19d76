import { execFileSync } from 'node:child_process';
import { isAbsolute, posix } from 'node:path';
import { IDENTITY_DISK } from '@vlab/core';
import { describe, expect, it } from 'vitest';
import { IDENTITY_SCRIPT, IDENTITY_UNIT, IDENTITY_UNIT_TEXT } from '../src/identity-disk.js';
import { identityDiskImageFiles } from '../src/index.js';
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

describe('the identity disk files for an image builder', () => {
  const files = identityDiskImageFiles();
  const byPath = new Map(files.map((file) => [file.path, file]));
  const unitPath = `/etc/systemd/system/${IDENTITY_UNIT}`;

  it('are absolute, normalized paths, each once, either a file or a symlink', () => {
    expect(files).toHaveLength(3);
    expect(byPath.size).toBe(files.length);
    for (const file of files) {
      expect(isAbsolute(file.path)).toBe(true);
      expect(posix.normalize(file.path)).toBe(file.path);
      expect((file.data === undefined) !== (file.symlink === undefined)).toBe(true);
      if (file.symlink !== undefined) expect(file.mode).toBeUndefined();
    }
  });

  it('hold the script and the unit with their modes', () => {
    expect(byPath.get(GUEST_PATHS.identityScript)).toEqual({
      path: GUEST_PATHS.identityScript,
      data: IDENTITY_SCRIPT,
      mode: 0o755,
    });
    expect(byPath.get(unitPath)).toEqual({ path: unitPath, data: IDENTITY_UNIT_TEXT, mode: 0o644 });
  });

  it('enable the unit as systemctl enable would for its WantedBy', () => {
    const wantedBy = /^WantedBy=(.+)$/m.exec(IDENTITY_UNIT_TEXT)?.[1];
    expect(wantedBy).toBe('sysinit.target');
    const link = `/etc/systemd/system/${wantedBy}.wants/${IDENTITY_UNIT}`;
    expect(byPath.get(link)).toEqual({ path: link, symlink: unitPath });
  });
});
