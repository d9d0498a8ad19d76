import { isVlabError } from '@vlab/core';
import { describe, expect, it } from 'vitest';
import { detectDistro, parseOsRelease } from '../src/distro.js';

const osRelease = (fields: Record<string, string>): string =>
  Object.entries(fields)
    .map(([k, v]) => `${k}="${v}"`)
    .join('\n');

describe('distribution families', () => {
  it.each([
    [{ ID: 'debian', VERSION_ID: '12' }, 'debian', 'ssh'],
    [{ ID: 'ubuntu', ID_LIKE: 'debian' }, 'debian', 'ssh'],
    [{ ID: 'linuxmint', ID_LIKE: 'ubuntu debian' }, 'debian', 'ssh'],
    [{ ID: 'rocky', ID_LIKE: 'rhel centos fedora' }, 'rhel', 'sshd'],
    [{ ID: 'almalinux' }, 'rhel', 'sshd'],
    [{ ID: 'fedora' }, 'rhel', 'sshd'],
    [{ ID: 'ol', ID_LIKE: 'fedora' }, 'rhel', 'sshd'],
  ])('%j is the %s family (sshd unit %s)', (fields, family, sshService) => {
    const distro = detectDistro(osRelease(fields), 'c1');
    expect(distro.id).toBe(family);
    expect(distro.sshService).toBe(sshService);
  });

  it('refuses a distribution it does not know, naming it', () => {
    try {
      detectDistro(osRelease({ ID: 'alpine', PRETTY_NAME: 'Alpine Linux v3.20' }), 'c1');
      throw new Error('accepted');
    } catch (error) {
      expect(isVlabError(error, 'VLAB_ERR_CAPABILITY_MISSING')).toBe(true);
      expect((error as Error).message).toContain('Alpine Linux v3.20');
    }
  });

  it('parses quoted, unquoted and escaped values', () => {
    expect(
      parseOsRelease(
        'ID=debian\nNAME="Debian GNU/Linux"\nX=\'single\'\nY="a \\"q\\" \\$b"\n# comment\n',
      ),
    ).toEqual({ ID: 'debian', NAME: 'Debian GNU/Linux', X: 'single', Y: 'a "q" $b' });
  });
});
