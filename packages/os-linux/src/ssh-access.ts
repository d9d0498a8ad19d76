import { coreError, type Network, parseNetwork } from '@vlab/core';
import type { LinuxOsConfig } from './config.js';
import { applySshAccess } from './firewall.js';
import type { Guest } from './guest.js';
import type { GuestFacts } from './probe.js';
import { assertNetwork } from './validate.js';

/** A firewall tool the module uses on a guest. */
export type FirewallTool = 'nftables' | 'iptables';

/**
 * The firewall tool to use on this guest, or `undefined` when the module leaves the firewall
 * alone (`firewall: none`, or none in the image and not `required`). With `required`, a guest
 * lacking the tool is `VLAB_ERR_CAPABILITY_MISSING`: call it before changing anything.
 */
export function firewallTool(
  config: LinuxOsConfig,
  facts: GuestFacts,
  computer: string,
  required: boolean,
): FirewallTool | undefined {
  if (config.firewall === 'none') return undefined;
  const tool =
    config.firewall === 'auto'
      ? facts.firewallTools[0]
      : facts.firewallTools.find((t) => t === config.firewall);
  if (tool !== undefined || !required) return tool;
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
  const networks: Network[] = config.managementNetworks.map((n) =>
    assertNetwork(n, computer, 'managementNetworks entry'),
  );
  // The module's own connection; not an address (an odd sshd): the configured networks must then
  // cover the management.
  const source = parseNetwork(facts.managementSource ?? '');
  return source === undefined ? networks : [...networks, source];
}

/**
 * Opens the SSH port to the management and to `users` (none: closed to everyone else) with
 * `tool`; without one (see {@link firewallTool}) it logs that SSH stays open and changes nothing.
 * Returns whether anything changed.
 */
export async function setSshAccess(
  guest: Guest,
  config: LinuxOsConfig,
  facts: GuestFacts,
  tool: FirewallTool | undefined,
  users: readonly Network[],
): Promise<boolean> {
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
