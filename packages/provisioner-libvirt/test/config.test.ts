import { isVlabError } from '@vlab/core';
import { describe, expect, it } from 'vitest';
import { type LibvirtConfigInput, libvirtConfig } from '../src/config.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPbGx2Yf2VZ9WkC8a2VZ9WkC8a2VZ9WkC8a2VZ9WkC8a';
const host = {
  address: '10.0.0.2',
  hostKey: KEY,
  key: { file: '/etc/vlab/libvirt-key' },
  network: 'vlab',
};
const minimal: LibvirtConfigInput = {
  store: { path: '/var/lib/vlab/images' },
  hosts: { kvm1: host },
};

/** The `VLAB_ERR_CONFIG_INVALID` error `input` is refused with. */
function refusal(input: unknown): { code: string; message: string } {
  try {
    libvirtConfig(input as LibvirtConfigInput);
  } catch (error) {
    if (isVlabError(error)) return error;
    throw error;
  }
  throw new Error('not refused');
}

describe('libvirtConfig', () => {
  it('applies every default', () => {
    expect(libvirtConfig(minimal)).toEqual({
      store: { path: '/var/lib/vlab/images' },
      hosts: {
        kvm1: {
          ...host,
          port: 22,
          user: 'root',
          uri: 'qemu:///system',
          dir: '/var/lib/vlab/libvirt',
          domainType: 'kvm',
        },
      },
      vm: { vcpus: 1, memoryMiB: 1024, tbCacheMiB: 128, fwCfgAddress: false },
      timeouts: {
        commandMs: 60_000,
        powerMs: 60_000,
        osBootMs: 600_000,
        preCaptureMs: 1_200_000,
        transferMs: 21_600_000,
        transferIdleMs: 120_000,
      },
      pollIntervalMs: 500,
    });
  });

  it('keeps what is given beside the defaults of the rest', () => {
    const config = libvirtConfig({
      ...minimal,
      hosts: { kvm1: { ...host, domainType: 'qemu', port: 2222 } },
      vm: { memoryMiB: 512 },
      timeouts: { osBootMs: 5000 },
    });
    expect(config.hosts['kvm1']?.domainType).toBe('qemu');
    expect(config.hosts['kvm1']?.port).toBe(2222);
    expect(config.vm).toEqual({ vcpus: 1, memoryMiB: 512, tbCacheMiB: 128, fwCfgAddress: false });
    expect(config.timeouts.osBootMs).toBe(5000);
    expect(config.timeouts.powerMs).toBe(60_000);
  });

  it('trims a host key with a comment to "type base64"', () => {
    const config = libvirtConfig({
      ...minimal,
      hosts: { kvm1: { ...host, hostKey: `  ${KEY}   root@kvm1 extra words\n` } },
    });
    expect(config.hosts['kvm1']?.hostKey).toBe(KEY);
  });

  it.each([
    ['an unknown key', { ...minimal, unknown: 1 }, '(root): Unrecognized key: "unknown"'],
    [
      'an unknown host key',
      { ...minimal, hosts: { kvm1: { ...host, pasword: 'x' } } },
      'hosts.kvm1: Unrecognized key: "pasword"',
    ],
    ['an unknown vm key', { ...minimal, vm: { cpus: 2 } }, 'vm: Unrecognized key: "cpus"'],
    [
      'an unknown deadline',
      { ...minimal, timeouts: { bootMs: 1 } },
      'timeouts: Unrecognized key: "bootMs"',
    ],
    [
      'an unknown store key',
      { ...minimal, store: { path: '/s', url: 'x' } },
      'store: Unrecognized',
    ],
    [
      'a host key that is not one',
      { ...minimal, hosts: { kvm1: { ...host, hostKey: 'ssh-ed25519 not;base64' } } },
      'hosts.kvm1.hostKey: is not an SSH public key',
    ],
    [
      'a host key of an unknown type',
      { ...minimal, hosts: { kvm1: { ...host, hostKey: KEY.replace('ssh-ed25519', 'ssh-dss') } } },
      'hosts.kvm1.hostKey',
    ],
    ['no host', { ...minimal, hosts: {} }, 'hosts: names no host'],
    ['a bad host name', { ...minimal, hosts: { 'kvm 1': host } }, 'hosts.kvm 1: Invalid key'],
    ['a host name with a slash', { ...minimal, hosts: { 'a/b': host } }, 'hosts.a/b: Invalid key'],
    ['a host name of 64 characters', { ...minimal, hosts: { ['k'.repeat(64)]: host } }, 'hosts.k'],
    ['a relative store', { ...minimal, store: { path: 'images' } }, 'store.path'],
    ['a relative dir', { ...minimal, hosts: { kvm1: { ...host, dir: 'vlab' } } }, 'hosts.kvm1.dir'],
    [
      'a host without a network',
      { ...minimal, hosts: { kvm1: { ...host, network: '' } } },
      'hosts.kvm1.network',
    ],
    [
      'an unknown domain type',
      { ...minimal, hosts: { kvm1: { ...host, domainType: 'xen' } } },
      'hosts.kvm1.domainType',
    ],
    [
      'a secret given as text',
      { ...minimal, hosts: { kvm1: { ...host, key: 'PRIVATE' } } },
      'hosts.kvm1.key',
    ],
    [
      'a port out of range',
      { ...minimal, hosts: { kvm1: { ...host, port: 70000 } } },
      'hosts.kvm1.port',
    ],
    ['zero vcpus', { ...minimal, vm: { vcpus: 0 } }, 'vm.vcpus'],
    ['a negative deadline', { ...minimal, timeouts: { powerMs: -1 } }, 'timeouts.powerMs'],
  ])('refuses %s, naming the key', (_what, input, says) => {
    const error = refusal(input);
    expect(error.code).toBe('VLAB_ERR_CONFIG_INVALID');
    expect(error.message).toContain(`provisioner-libvirt config: ${says}`);
  });
});
