import type { Network } from '@vlab/core';
import type { Guest } from './guest.js';
import { GUEST_PATHS } from './paths.js';
import { installUnit } from './systemd-unit.js';

/** The unit that loads the rules at boot. */
export const FIREWALL_UNIT = 'vlab-firewall.service';

/** Who may reach the guest's SSH port: the management always, the reservation's users while it lasts. */
export interface SshAccess {
  readonly port: number;
  readonly management: readonly Network[];
  readonly users: readonly Network[];
}

// The module owns only its own table (nftables) or chain (iptables) and filters only the SSH
// port: an accept there does not override the image's own rules, a reject is final. Established
// connections get no exception, so closing the firewall also closes what a sanitize leaves.

function elements(networks: readonly Network[], family: 4 | 6): string {
  const kept = outermost(networks.filter((n) => n.family === family)).map((n) => n.text);
  return kept.length === 0 ? '' : ` elements = { ${kept.join(', ')} };`;
}

/**
 * The networks no other one of the list covers (the first of equal ones): an nftables interval
 * set refuses overlapping elements ("conflicting intervals"), and users' lists overlap — one
 * user's `0.0.0.0/0` beside another's address.
 */
export function outermost(networks: readonly Network[]): Network[] {
  const parsed = networks.map((network) => {
    const [address = '', bits] = network.text.split('/');
    const max = network.family === 4 ? 32 : 128;
    return { network, address, bits: bits === undefined ? max : Number(bits) };
  });
  const covers = (a: (typeof parsed)[number], b: (typeof parsed)[number]): boolean => {
    if (a.network.family !== b.network.family || a.bits > b.bits) return false;
    const max = BigInt(a.network.family === 4 ? 32 : 128);
    const shift = max - BigInt(a.bits);
    return addressBits(a.address) >> shift === addressBits(b.address) >> shift;
  };
  return parsed
    .filter((b, j) => parsed.every((a, i) => i === j || !covers(a, b) || (covers(b, a) && j < i)))
    .map((p) => p.network);
}

/** The nftables ruleset, replacing table `inet vlab` in one transaction. */
export function nftRuleset(access: SshAccess): string {
  const sets = (['management', 'users'] as const).flatMap((name) =>
    ([4, 6] as const).map(
      (family) =>
        `  set ${name}${family} { type ipv${family}_addr; flags interval;${elements(access[name], family)} }`,
    ),
  );
  return `# Written by vlab os-linux: who may reach SSH on this machine. Do not edit.
table inet vlab
delete table inet vlab
table inet vlab {
${sets.join('\n')}
  chain input {
    type filter hook input priority filter - 10; policy accept;
    tcp dport ${access.port} iif "lo" accept
    tcp dport ${access.port} ip saddr @management4 accept
    tcp dport ${access.port} ip6 saddr @management6 accept
    tcp dport ${access.port} ip saddr @users4 accept
    tcp dport ${access.port} ip6 saddr @users6 accept
    tcp dport ${access.port} reject with tcp reset
  }
}
`;
}

/** The iptables-restore input (`--noflush`) for one family: chain VLAB-SSH, jumped to from INPUT. */
export function iptablesRules(access: SshAccess, family: 4 | 6): string {
  const sources = [
    ...new Set(
      [...access.management, ...access.users].filter((n) => n.family === family).map((n) => n.text),
    ),
  ];
  return `# Written by vlab os-linux: who may reach SSH on this machine. Do not edit.
*filter
:VLAB-SSH - [0:0]
-A VLAB-SSH -i lo -j RETURN
${sources.map((source) => `-A VLAB-SSH -s ${source} -j RETURN`).join('\n')}
-A VLAB-SSH -p tcp -j REJECT --reject-with tcp-reset
COMMIT
`.replace(/\n\n/g, '\n');
}

/**
 * The script that loads the iptables rules and installs the jump from INPUT once (`-C` checks
 * whether it is there); run at once and by the boot-time unit. Port and paths are the module's
 * own values, not data from a reservation.
 */
export function iptablesApplyScript(port: number): string {
  return `#!/bin/sh
# Written by vlab os-linux: loads who may reach SSH on this machine. Do not edit.
set -e
iptables-restore --noflush < ${GUEST_PATHS.firewallIptables4}
iptables -C INPUT -p tcp --dport ${port} -j VLAB-SSH 2>/dev/null || iptables -I INPUT -p tcp --dport ${port} -j VLAB-SSH
if command -v ip6tables-restore >/dev/null 2>&1; then
  ip6tables-restore --noflush < ${GUEST_PATHS.firewallIptables6}
  ip6tables -C INPUT -p tcp --dport ${port} -j VLAB-SSH 2>/dev/null || ip6tables -I INPUT -p tcp --dport ${port} -j VLAB-SSH
fi
`;
}

function unit(execStart: string): string {
  return `# Written by vlab os-linux: restores who may reach SSH at boot.
[Unit]
Description=vlab guest firewall (SSH access of the reservation)
DefaultDependencies=no
Before=network-pre.target
Wants=network-pre.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=${execStart}

[Install]
WantedBy=multi-user.target
`;
}

/**
 * Writes the rules and a boot-time unit, and applies them at once; returns whether anything
 * changed (the files, or rules missing from the running kernel).
 */
export async function applySshAccess(
  guest: Guest,
  tool: 'nftables' | 'iptables',
  access: SshAccess,
): Promise<boolean> {
  if (tool === 'nftables') {
    let changed = await guest.writeFile(GUEST_PATHS.firewallNft, nftRuleset(access), {
      mode: 0o600,
    });
    changed =
      (await installUnit(guest, FIREWALL_UNIT, unit(`nft -f ${GUEST_PATHS.firewallNft}`))) ||
      changed;
    const loaded = await guest.run(['nft', 'list', 'table', 'inet', 'vlab']);
    if (!changed && loaded.code === 0) return false;
    await guest.runChecked(['nft', '-f', GUEST_PATHS.firewallNft]);
    return true;
  }
  const files: [string, string, number][] = [
    [GUEST_PATHS.firewallIptables4, iptablesRules(access, 4), 0o600],
    [GUEST_PATHS.firewallIptables6, iptablesRules(access, 6), 0o600],
    [GUEST_PATHS.firewallScript, iptablesApplyScript(access.port), 0o700],
  ];
  let changed = false;
  for (const [path, content, mode] of files)
    changed = (await guest.writeFile(path, content, { mode })) || changed;
  changed =
    (await installUnit(guest, FIREWALL_UNIT, unit(`/bin/sh ${GUEST_PATHS.firewallScript}`))) ||
    changed;
  const port = String(access.port);
  const jumped = await guest.run([
    'iptables',
    '-C',
    'INPUT',
    '-p',
    'tcp',
    '--dport',
    port,
    '-j',
    'VLAB-SSH',
  ]);
  if (!changed && jumped.code === 0) return false;
  await guest.runChecked(['sh', GUEST_PATHS.firewallScript]);
  return true;
}

/** An address (validated by `assertNetwork`) as a number: 32 bits for IPv4, 128 for IPv6. */
function addressBits(address: string): bigint {
  if (!address.includes(':')) {
    return address.split('.').reduce((sum, part) => (sum << 8n) | BigInt(Number(part)), 0n);
  }
  // IPv6: a dotted IPv4 tail is two groups; `::` stands for as many zero groups as are missing.
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  const v4 = dotted === null ? undefined : addressBits(dotted[2] as string);
  const text =
    v4 === undefined
      ? address
      : `${dotted?.[1]}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  const [head = '', tail] = text.split('::');
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  const missing = 8 - groups(head).length - (tail === undefined ? 0 : groups(tail).length);
  const all = [
    ...groups(head),
    ...Array<string>(tail === undefined ? 0 : missing).fill('0'),
    ...groups(tail ?? ''),
  ];
  return all.reduce((sum, group) => (sum << 16n) | BigInt(Number.parseInt(group, 16)), 0n);
}
