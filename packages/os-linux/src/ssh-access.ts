import { coreError } from '@vlab/core';
import type { LinuxOsConfig } from './config.js';
import { applySshAccess } from './firewall.js';
import type { Guest } from './guest.js';
import type { GuestFacts } from './probe.js';
import { type Network, parseNetwork } from './validate.js';

/** The firewall tool to use, or `undefined` when the module leaves the firewall alone. */
function firewallTool(
  config: LinuxOsConfig,
  facts: GuestFacts,
  computer: string,
  required: boolean,
): 'nftables' | 'iptables' | undefined {
  if (config.firewall === 'none') return undefined;
  const tool = config.firewall === 'auto' ? facts.firewallTool : config.firewall;
  if (tool !== undefined && (config.firewall === 'auto' || facts.firewallTool !== undefined))
    return tool;
  if (!required) return undefined;
  throw coreError(
    'VLAB_ERR_CAPABILITY_MISSING',
    `the image has ${config.firewall === 'auto' ? 'neither nft nor iptables-restore' : `no ${config.firewall}`}, so SSH cannot be limited to the users' addresses`,
    {
      computer,
      hint: 'Install nftables in the image, or set firewall: none in the os-linux config (users then reach SSH from anywhere).',
    },
  );
}

/** The management's addresses: the configured networks and the communicator's own connection. */
function managementNetworks(config: LinuxOsConfig, facts: GuestFacts, computer: string): Network[] {
  const networks = config.managementNetworks.map((n) =>
    parseNetwork(n, computer, 'managementNetworks entry'),
  );
  if (facts.managementSource !== undefined) {
    try {
      networks.push(parseNetwork(facts.managementSource, computer, 'SSH_CONNECTION source'));
    } catch {
      // Not an address (an odd sshd): the configured networks must then cover the management.
    }
  }
  return networks;
}

/**
 * Opens the SSH port to the management and to `users` (none: closed to everyone else).
 * Returns whether anything changed. With `required`, a guest without a firewall tool is an error;
 * otherwise it is logged and skipped.
 */
export async function setSshAccess(
  guest: Guest,
  config: LinuxOsConfig,
  facts: GuestFacts,
  users: readonly Network[],
  required: boolean,
): Promise<boolean> {
  const tool = firewallTool(config, facts, guest.computer, required);
  if (tool === undefined) {
    if (config.firewall !== 'none')
      guest.ctx.log.warn('no firewall tool in the image: SSH stays open to every address');
    return false;
  }
  const management = managementNetworks(config, facts, guest.computer);
  const changed = await applySshAccess(guest, tool, { port: config.sshPort, management, users });
  if (changed)
    guest.ctx.log.info('SSH access set', {
      tool,
      management: management.map((n) => n.text),
      users: users.map((n) => n.text),
    });
  return changed;
}
