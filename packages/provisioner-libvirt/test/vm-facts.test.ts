import { type ComputerRef, isVlabError, type VlabError } from '@vlab/core';
import { describe, expect, it } from 'vitest';
import { type LibvirtConfig, libvirtConfig } from '../src/config.js';
import { vmFacts } from '../src/vm-facts.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPbGx2Yf2VZ9WkC8a2VZ9WkC8a2VZ9WkC8a2VZ9WkC8a';
const host = { address: '10.0.0.2', hostKey: KEY, key: { env: 'KVM_KEY' }, network: 'vlab' };
const one = libvirtConfig({ store: { path: '/s' }, hosts: { kvm1: host } });
const two = libvirtConfig({
  store: { path: '/s' },
  hosts: { kvm1: host, kvm2: { ...host, address: '10.0.0.3', dir: '/srv/vms' } },
});

function computer(attributes: Record<string, string>): ComputerRef {
  return {
    name: 'vm7',
    hostname: 'vm7',
    addresses: { management: '192.168.122.7' },
    credentials: {},
    attributes,
  };
}

/** The typed error `vmFacts` refuses the computer with. */
function refusal(attributes: Record<string, string>, config: LibvirtConfig = one): VlabError {
  try {
    vmFacts(computer(attributes), config);
  } catch (error) {
    if (isVlabError(error)) return error;
    throw error;
  }
  throw new Error('not refused');
}

describe('vmFacts', () => {
  it('picks the only host and names the domain after the computer', () => {
    expect(vmFacts(computer({ mac: '52:54:00:12:34:56' }), one)).toEqual({
      name: 'vm7',
      hostName: 'kvm1',
      host: one.hosts['kvm1'],
      domain: 'vm7',
      mac: '52:54:00:12:34:56',
      vcpus: 1,
      memoryMiB: 1024,
      address: '192.168.122.7',
      prefixLength: 24,
    });
  });

  it('takes the attributes over the defaults, and an empty one as absent', () => {
    const facts = vmFacts(
      computer({
        libvirtHost: 'kvm2',
        mac: '52:54:00:AB:CD:EF',
        domain: 'lab.vm-7_a',
        vcpus: '4',
        memoryMiB: '4096',
        prefixLength: '16',
      }),
      two,
    );
    expect(facts).toMatchObject({
      hostName: 'kvm2',
      host: { address: '10.0.0.3', dir: '/srv/vms' },
      domain: 'lab.vm-7_a',
      mac: '52:54:00:ab:cd:ef',
      vcpus: 4,
      memoryMiB: 4096,
      prefixLength: 16,
    });
    expect(
      vmFacts(computer({ mac: '52:54:00:12:34:56', domain: '', vcpus: '' }), one),
    ).toMatchObject({ domain: 'vm7', vcpus: 1 });
  });

  it.each([
    [{}, 'mac', 'is missing'],
    [{ mac: '' }, 'mac', 'is missing'],
    [{ mac: '52:54:00:12:34' }, 'mac', 'is not a unicast MAC address'],
    [{ mac: '52-54-00-12-34-56' }, 'mac', 'is not a unicast MAC address'],
    [{ mac: '52:54:00:12:34:5g' }, 'mac', 'is not a unicast MAC address'],
    [{ mac: '53:54:00:12:34:56' }, 'mac', 'is not a unicast MAC address'],
    [{ domain: '42' }, 'domain', 'is not a domain name'],
    [{ domain: '5721181e-792e-4f1f-ba1c-a3476d8cdaf4' }, 'domain', 'is not a domain name'],
    [{ mac: '52:54:00:12:34:56', domain: '../etc' }, 'domain', 'is not a domain name'],
    [{ mac: '52:54:00:12:34:56', domain: "a'b" }, 'domain', 'is not a domain name'],
    [{ mac: '52:54:00:12:34:56', domain: 'a b' }, 'domain', 'is not a domain name'],
    [{ mac: '52:54:00:12:34:56', domain: 'x'.repeat(64) }, 'domain', 'is not a domain name'],
    [{ mac: '52:54:00:12:34:56', vcpus: '0' }, 'vcpus', 'is not an integer from 1 to 256'],
    [{ mac: '52:54:00:12:34:56', vcpus: '1.5' }, 'vcpus', 'is not an integer from 1 to 256'],
    [{ mac: '52:54:00:12:34:56', vcpus: 'four' }, 'vcpus', 'is not an integer from 1 to 256'],
    [{ mac: '52:54:00:12:34:56', vcpus: '257' }, 'vcpus', 'is not an integer from 1 to 256'],
    [{ mac: '52:54:00:12:34:56', memoryMiB: '64' }, 'memoryMiB', 'is not an integer from 128'],
    [{ mac: '52:54:00:12:34:56', prefixLength: '33' }, 'prefixLength', 'is not an integer from 1'],
    [{ mac: '52:54:00:12:34:56', libvirtHost: 'kvm9' }, 'libvirtHost', 'is kvm9, which the config'],
  ])('refuses %j with VLAB_ERR_CONFIG_INVALID naming %s', (attributes, attribute, says) => {
    const error = refusal(attributes);
    expect(error.code).toBe('VLAB_ERR_CONFIG_INVALID');
    expect(error.computer).toBe('vm7');
    expect(error.details).toEqual({ attribute: `attribute ${attribute}` });
    expect(error.message).toContain(`computer vm7: attribute ${attribute} ${says}`);
  });

  it('refuses a computer without libvirtHost when the config has two hosts, naming them', () => {
    const error = refusal({ mac: '52:54:00:12:34:56' }, two);
    expect(error.code).toBe('VLAB_ERR_CONFIG_INVALID');
    expect(error.message).toContain(
      'computer vm7: attribute libvirtHost is missing (the config names kvm1, kvm2)',
    );
  });
});
