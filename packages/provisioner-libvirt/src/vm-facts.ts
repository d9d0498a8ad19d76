import { type ComputerRef, coreError } from '@vlab/core';
import type { LibvirtConfig, LibvirtHostConfig } from './config.js';

/**
 * What the provisioner needs to know of one computer (a VM), from its `ComputerRef`:
 *
 * | attribute      | required | meaning |
 * |----------------|----------|---------|
 * | `libvirtHost`  | when the config has more than one host | the host it runs on (a key of `hosts`) |
 * | `mac`          | yes      | its NIC's MAC address (what the network's DHCP, or fw_cfg, gives the address for) |
 * | `domain`       | no       | the libvirt domain's name: a letter first, not a UUID (default: the computer's name) |
 * | `vcpus`        | no       | virtual CPUs (default: the config's `vm.vcpus`) |
 * | `memoryMiB`    | no       | memory in MiB (default: the config's `vm.memoryMiB`) |
 * | `prefixLength` | no       | the address's prefix length for `vm.fwCfgAddress` (default: 24) |
 *
 * The management address is the guest's: where its OS answers SSH.
 * @public
 */
export interface VmFacts {
  /** The computer's name (every error names it). */
  readonly name: string;
  /** The host's name in the config. */
  readonly hostName: string;
  /** The host's config. */
  readonly host: LibvirtHostConfig;
  /** The libvirt domain's name. */
  readonly domain: string;
  /** The NIC's MAC address, lowercase. */
  readonly mac: string;
  /** Virtual CPUs. */
  readonly vcpus: number;
  /** Memory in MiB. */
  readonly memoryMiB: number;
  /** The guest's management address. */
  readonly address: string;
  /** The address's prefix length, for fw_cfg. */
  readonly prefixLength: number;
}

// virsh reads a name as a domain id or UUID first: a name must start with a letter and not look
// like a UUID.
const DOMAIN = /^[A-Za-z][A-Za-z0-9_.-]{0,62}$/;
const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/**
 * Reads and checks a computer's attributes; throws `VLAB_ERR_CONFIG_INVALID` naming the computer
 * and the attribute.
 * @public
 */
export function vmFacts(computer: ComputerRef, config: LibvirtConfig): VmFacts {
  const invalid = (key: string, why: string) =>
    coreError(
      'VLAB_ERR_CONFIG_INVALID',
      `computer ${computer.name}: ${key} ${why} (see @vlab/provisioner-libvirt's README, "Computer attributes")`,
      { computer: computer.name, details: { attribute: key } },
    );
  const attribute = (key: string): string | undefined => {
    const value = computer.attributes[key];
    return value === undefined || value === '' ? undefined : value;
  };
  const integer = (key: string, fallback: number, min: number, max: number): number => {
    const text = attribute(key);
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value < min || value > max)
      throw invalid(`attribute ${key}`, `is not an integer from ${min} to ${max}`);
    return value;
  };

  const hostNames = Object.keys(config.hosts);
  const hostName = attribute('libvirtHost') ?? (hostNames.length === 1 ? hostNames[0] : undefined);
  if (hostName === undefined)
    throw invalid('attribute libvirtHost', `is missing (the config names ${hostNames.join(', ')})`);
  const host = config.hosts[hostName];
  if (host === undefined)
    throw invalid(
      'attribute libvirtHost',
      `is ${hostName}, which the config's hosts (${hostNames.join(', ')}) do not name`,
    );
  const domain = attribute('domain') ?? computer.name;
  if (!DOMAIN.test(domain) || UUID.test(domain))
    throw invalid(
      'attribute domain',
      'is not a domain name (a letter, then letters, digits, "_", ".", "-"; at most 63; not a UUID)',
    );
  const mac = attribute('mac')?.toLowerCase();
  if (mac === undefined) throw invalid('attribute mac', 'is missing');
  // The first octet's lowest bit marks a multicast address, which no NIC may have.
  if (!MAC.test(mac) || (Number.parseInt(mac.slice(0, 2), 16) & 1) === 1)
    throw invalid('attribute mac', 'is not a unicast MAC address (52:54:00:12:34:56)');
  return {
    name: computer.name,
    hostName,
    host,
    domain,
    mac,
    vcpus: integer('vcpus', config.vm.vcpus, 1, 256),
    memoryMiB: integer('memoryMiB', config.vm.memoryMiB, 128, 4_194_304),
    address: computer.addresses.management,
    prefixLength: integer('prefixLength', 24, 1, 32),
  };
}
