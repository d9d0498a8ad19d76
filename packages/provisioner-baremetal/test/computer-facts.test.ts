import type { ComputerRef } from '@vlab/core';
import { isVlabError } from '@vlab/core';
import { describe, expect, it } from 'vitest';
import { computerFacts } from '../src/computer-facts.js';
import { baremetalConfig } from '../src/config.js';

const config = baremetalConfig({ store: { path: '/var/lib/vlab/images' } });
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPbGx2Yf2VZ9WkC8a2VZ9WkC8a2VZ9WkC8a2VZ9WkC8a';

function computer(attributes: Record<string, string>, credentials = true): ComputerRef {
  return {
    name: 'pc17',
    hostname: 'pc17',
    addresses: { management: '10.0.0.17' },
    credentials: credentials
      ? { bmc: { env: 'BMC_PW' }, deployKey: { file: '/etc/vlab/deploy' } }
      : {},
    attributes,
  };
}
const complete = { bmcHost: '10.1.0.17', bmcUser: 'admin', deployHostKey: `${KEY} deploy@pc17` };

function refusal(ref: ComputerRef): { code?: string; message: string; details?: unknown } {
  try {
    computerFacts(ref, config);
  } catch (error) {
    if (isVlabError(error)) return error;
  }
  throw new Error('not refused');
}

describe('computer attributes', () => {
  it('reads a complete computer with the defaults applied', () => {
    expect(computerFacts(computer(complete), config)).toEqual({
      name: 'pc17',
      address: '10.0.0.17',
      bmc: {
        host: '10.1.0.17',
        port: 623,
        user: 'admin',
        cipherSuites: [17],
        password: { env: 'BMC_PW' },
      },
      deploy: {
        hostKey: KEY,
        disk: '/dev/sda',
        rootFileSystem: '/dev/sda',
        user: 'root',
        key: { file: '/etc/vlab/deploy' },
      },
    });
  });

  it.each([
    [{ ...complete, bmcHost: '' }, 'attribute bmcHost is missing'],
    [{ ...complete, bmcPort: '70000' }, 'attribute bmcPort is not a port number'],
    [{ ...complete, bmcCipherSuite: '3' }, 'attribute bmcCipherSuite is 3, which the config'],
    [
      { ...complete, deployHostKey: 'not a key' },
      'attribute deployHostKey is not an SSH public key',
    ],
    [
      { ...complete, deployDisk: '/dev/../etc/passwd' },
      'attribute deployDisk is not a device path',
    ],
    [
      { ...complete, rootFileSystem: "/dev/sda1'; rm -rf /" },
      'attribute rootFileSystem is not a device path',
    ],
  ])('refuses %j, naming the computer and the attribute', (attributes, says) => {
    const error = refusal(computer(attributes));
    expect(error.code).toBe('VLAB_ERR_CONFIG_INVALID');
    expect(error.message).toContain(`computer pc17: ${says}`);
  });

  it('refuses a computer without its credentials', () => {
    expect(refusal(computer(complete, false)).message).toContain('credential bmc is missing');
  });

  it('takes suite 3 only where the config allows it', () => {
    const allowing = baremetalConfig({ store: { path: '/s' }, cipherSuites: [17, 3] });
    expect(
      computerFacts(computer({ ...complete, bmcCipherSuite: '3' }), allowing).bmc.cipherSuites,
    ).toEqual([3]);
  });
});

describe('config', () => {
  it('applies defaults and keeps partial deadlines', () => {
    const c = baremetalConfig({ store: { path: '/s' }, timeouts: { osBootMs: 5000 } });
    expect(c.timeouts.osBootMs).toBe(5000);
    expect(c.timeouts.deployBootMs).toBe(600_000);
    expect(c.cipherSuites).toEqual([17]);
  });

  it.each([
    [{ store: { path: 'relative' } }, 'store.path'],
    [{ store: { path: '/s' }, cipherSuites: [1] }, 'cipherSuites.0'],
    [{ store: { path: '/s' }, timeouts: { powerMs: -1 } }, 'timeouts.powerMs'],
    [{ store: { path: '/s' }, unknown: 1 }, '(root)'],
  ])('refuses %j naming %s', (input, key) => {
    expect(() => baremetalConfig(input as never)).toThrow(`provisioner-baremetal config: ${key}`);
  });
});
