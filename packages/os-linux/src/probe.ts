import { type DistroFamily, detectDistro } from './distro.js';
import type { Guest } from './guest.js';

/** What the module learns about a guest in one round trip before it changes anything. */
export interface GuestFacts {
  readonly distro: DistroFamily;
  /** The firewall tools the image has, nftables first. */
  readonly firewallTools: readonly ('nftables' | 'iptables')[];
  /** The address the management's SSH connection comes from (`$SSH_CONNECTION`), if known. */
  readonly managementSource: string | undefined;
}

// Run as the login user, not through sudo, which would drop $SSH_CONNECTION. Sections are
// separated by a marker line.
const PROBE = `cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null
echo @@vlab@@
for d in /usr/sbin /sbin /usr/bin; do [ -x "$d/nft" ] && { echo nftables; break; }; done
for d in /usr/sbin /sbin /usr/bin; do [ -x "$d/iptables-restore" ] && { echo iptables; break; }; done
echo @@vlab@@
echo "\${SSH_CONNECTION:-}"`;

/** Probes the guest: distribution family, firewall tool, where the management connects from. */
export async function probeGuest(guest: Guest): Promise<GuestFacts> {
  const out = await guest.scriptChecked('probe', PROBE, [], { elevated: false });
  const [osRelease = '', firewall = '', connection = ''] = out.split('@@vlab@@\n');
  const tools = firewall.split('\n').filter((t) => t === 'nftables' || t === 'iptables');
  return {
    distro: detectDistro(osRelease, guest.computer),
    firewallTools: tools,
    managementSource: connection.trim().split(' ')[0] || undefined,
  };
}
