import { type Network, parseNetwork } from '@vlab/core';
import type { WindowsOsConfig } from './config.js';
import type { GuestFacts } from './facts.js';
import type { Guest } from './guest.js';
import { assertNetwork } from './validate.js';

/**
 * vlab's inbound rules (group `vlab`). Windows Firewall denies inbound by default, so a port is
 * open exactly to the addresses of the rules that allow it: the management's always, the
 * reservation's users' while it lasts. The image's own open-to-everyone rules for Remote Desktop
 * and OpenSSH are disabled so they do not undo that.
 */
export const RULES = {
  managementSsh: 'vlab-management-ssh',
  managementRdp: 'vlab-management-rdp',
  usersSsh: 'vlab-users-ssh',
  usersRdp: 'vlab-users-rdp',
} as const;

/** The management's addresses: the configured networks and the communicator's own connection. */
export function managementNetworks(
  config: WindowsOsConfig,
  facts: GuestFacts,
  computer: string,
): Network[] {
  const networks: Network[] = config.managementNetworks.map((n) =>
    assertNetwork(n, computer, 'managementNetworks entry'),
  );
  // The module's own connection; not an address (an odd sshd): the configured networks must then
  // cover the management.
  const source = parseNetwork(facts.managementSource ?? '');
  return source === undefined ? networks : [...networks, source];
}

function unique(networks: readonly Network[]): string[] {
  return [...new Set(networks.map((n) => n.text))];
}

async function setRule(
  guest: Guest,
  name: string,
  port: number,
  networks: readonly Network[],
): Promise<boolean> {
  const out = await guest.runChecked('setFirewallRule', [], {
    stdin: { name, port: String(port), addresses: unique(networks) },
  });
  // An update rewrites the rule whether or not it differed: only creation and removal count.
  return /created|removed/.test(out);
}

/**
 * Opens SSH and RDP to the management and to `users` (none: to nobody else). The image's
 * open-to-everyone SSH rule is disabled only once the management's own rule can keep the
 * module's connection: without a known management address it stays, and a warning says so.
 * Returns whether anything changed.
 */
export async function setAccess(
  guest: Guest,
  config: WindowsOsConfig,
  facts: GuestFacts,
  users: readonly Network[],
): Promise<boolean> {
  const management = managementNetworks(config, facts, guest.computer);
  const { ssh, rdp } = config.ports;
  let changed = await setRule(guest, RULES.managementSsh, ssh, management);
  changed = (await setRule(guest, RULES.managementRdp, rdp, management)) || changed;
  changed = (await setRule(guest, RULES.usersSsh, ssh, users)) || changed;
  changed = (await setRule(guest, RULES.usersRdp, rdp, users)) || changed;
  const closeSsh = management.length > 0;
  if (!closeSsh)
    guest.ctx.log.warn(
      'no management address known: the image\u2019s OpenSSH rule stays open to every address',
    );
  const closed =
    Number((await guest.runChecked('closeBuiltInRules', [closeSsh ? 'yes' : 'no'])).trim()) || 0;
  if (changed || closed > 0)
    guest.ctx.log.info('SSH and RDP access set', {
      management: unique(management),
      users: unique(users),
      builtInRulesClosed: closed,
    });
  return changed || closed > 0;
}
