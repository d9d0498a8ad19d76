import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, runChecked } from './exec.js';
import { removeVmBridgeRules } from './libvirt-chains.js';
import { rootLinks, usedPrefixes } from './net.js';

/**
 * The VMs' network: 198.18.100.0/24 (in 198.18.0.0/15, reserved for benchmarking, like the labs'),
 * host `.1`, VM `n` at `.(10 + n)` as lab computers are. A blackhole route for 198.18.100.0/23
 * goes into the root namespace first, with protocol {@link VM_ROUTE_PROTO}, not the labs' 213:
 * `cleanStaleLabs` removes every 213 blackhole no live lab owns, and the lab allocator skips any
 * 198.18 prefix that has a route, so neither disturbs the other.
 */
export const VM_NET = {
  subnet: '198.18.100.0/24',
  blackhole: '198.18.100.0/23',
  hostAddress: '198.18.100.1',
  prefixLength: 24,
} as const;

/** Where libvirtd keeps the state of running networks (transient ones included). */
const NETWORK_STATUS_DIR = '/run/libvirt/network';

/** Protocol number of the VM network's blackhole route. */
export const VM_ROUTE_PROTO = '214';

/** The address of VM `n` (1…200) on {@link VM_NET}. */
export function vmAddress(n: number): string {
  if (!Number.isInteger(n) || n < 1 || n > 200) throw new Error(`VM number ${n} out of range`);
  return `198.18.100.${10 + n}`;
}

/** An isolated libvirt network: no `<forward>`, no DHCP, no DNS; the host at `.1` only. */
export interface VmNetwork {
  /** The libvirt network's name (`vlab-vm-<hex>`), for `<source network=…>`. */
  readonly name: string;
  /** Its bridge in the root namespace (`vlvm<hex>`). */
  readonly bridge: string;
  /** Removes the network (its bridge goes with it), then the blackhole route. */
  remove(): Promise<void>;
}

function virsh(args: readonly string[]) {
  return runChecked('virsh', ['-c', 'qemu:///system', ...args], { timeoutMs: 60_000 });
}

/** The libvirt network's and the bridge's names for `id` (6 hex digits). */
export function vmNetworkNames(id: string): { readonly name: string; readonly bridge: string } {
  if (!/^[0-9a-f]{6}$/.test(id)) throw new Error(`bad VM network id ${id}`);
  return { name: `vlab-vm-${id}`, bridge: `vlvm${id}` };
}

/**
 * Creates the VM network as a transient libvirt network (gone with libvirtd, never autostarted).
 * Refuses when its prefix is in use on this machine (one VM network at a time for now).
 */
export async function createVmNetwork(
  names = vmNetworkNames(randomBytes(3).toString('hex')),
): Promise<VmNetwork> {
  const clash = (await usedPrefixes()).filter((p) => /^198\.18\.10[01]\./.test(p));
  if (clash.length > 0) {
    throw new Error(`the VM network ${VM_NET.subnet} is in use here (routes: ${clash.join(', ')})`);
  }
  const { name, bridge } = names;
  // The blackhole comes first: nothing for the VMs' prefix may leave through the default route.
  await runChecked('ip', ['route', 'add', 'blackhole', VM_NET.blackhole, 'proto', VM_ROUTE_PROTO]);
  let created = false;
  const remove = async (): Promise<void> => {
    if (created) await run('virsh', ['-c', 'qemu:///system', 'net-destroy', name]);
    created = false;
    // libvirt leaves the network's (empty) port directory behind.
    await rm(join(NETWORK_STATUS_DIR, name), { recursive: true, force: true });
    if ((await rootLinks()).includes(bridge)) await run('ip', ['link', 'del', bridge]);
    if (await vmBlackholePresent()) {
      await run('ip', ['route', 'del', 'blackhole', VM_NET.blackhole, 'proto', VM_ROUTE_PROTO]);
    }
  };
  const dir = await mkdtemp(join(tmpdir(), 'vlab-vm-net-'));
  try {
    const xml = join(dir, 'network.xml');
    await writeFile(
      xml,
      [
        '<network>',
        `  <name>${name}</name>`,
        `  <bridge name='${bridge}' stp='off' delay='0'/>`,
        "  <dns enable='no'/>",
        `  <ip address='${VM_NET.hostAddress}' prefix='${VM_NET.prefixLength}'/>`,
        '</network>',
        '',
      ].join('\n'),
    );
    await virsh(['net-create', xml]);
    created = true;
  } catch (error) {
    await remove();
    throw error;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return { name, bridge, remove };
}

/** Whether the VM network's blackhole route is in place (tests check it). */
export async function vmBlackholePresent(): Promise<boolean> {
  const out = await run('ip', ['-j', 'route', 'show', 'proto', VM_ROUTE_PROTO]);
  try {
    return (JSON.parse(out.stdout) as { type?: string; dst: string }[]).some(
      (r) => r.type === 'blackhole' && r.dst === VM_NET.blackhole,
    );
  } catch {
    return false;
  }
}

/**
 * Removes what a harness killed outright (SIGKILL: no reaper ran) left of a VM network: libvirt's
 * status files and port directories of `vlab-vm-…` networks (a status file whose bridge is gone
 * makes libvirtd crash at its next start), `vlvm…` bridges, the rules libvirt's chains hold for
 * them, and the VM blackhole route. Only while no libvirtd runs
 * (the caller checks): a running harness would still own them. Returns what it removed.
 */
export async function removeStaleVmNetworks(): Promise<string[]> {
  const removed: string[] = [];
  const status = await readdir(NETWORK_STATUS_DIR).catch(() => [] as string[]);
  for (const file of status.filter((f) => /^vlab-vm-[0-9a-f]{6}(\.xml)?$/.test(f))) {
    await rm(join(NETWORK_STATUS_DIR, file), { recursive: true, force: true });
    removed.push(join(NETWORK_STATUS_DIR, file));
  }
  for (const link of (await rootLinks()).filter((l) => /^vlvm[0-9a-f]{6}$/.test(l))) {
    await runChecked('ip', ['link', 'del', link]);
    removed.push(`bridge ${link}`);
  }
  const rules = await removeVmBridgeRules();
  if (rules.length > 0) removed.push(`${rules.length} firewall rules of their bridges`);
  if (await vmBlackholePresent()) {
    await runChecked('ip', [
      'route',
      'del',
      'blackhole',
      VM_NET.blackhole,
      'proto',
      VM_ROUTE_PROTO,
    ]);
    removed.push(`blackhole ${VM_NET.blackhole}`);
  }
  return removed;
}
