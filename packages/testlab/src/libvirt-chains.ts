import { run } from './exec.js';

/**
 * The chains libvirt's network driver adds to the root namespace's iptables (both families) the
 * first time it starts a network, each hooked in by a jump from a built-in chain. libvirt never
 * removes them (net-destroy only empties them).
 */
const LIBVIRT_CHAINS: readonly (readonly [table: string, chain: string, parent: string])[] = [
  ['filter', 'LIBVIRT_INP', 'INPUT'],
  ['filter', 'LIBVIRT_OUT', 'OUTPUT'],
  ['filter', 'LIBVIRT_FWX', 'FORWARD'],
  ['filter', 'LIBVIRT_FWI', 'FORWARD'],
  ['filter', 'LIBVIRT_FWO', 'FORWARD'],
  ['nat', 'LIBVIRT_PRT', 'POSTROUTING'],
  ['mangle', 'LIBVIRT_PRT', 'POSTROUTING'],
];

/**
 * Removes libvirt's chains once its networks are gone (libvirtd stopped): each chain that is
 * empty loses its jump and is deleted; one that still has rules is left and named in the result.
 * Nothing else of the tables is touched.
 */
export async function removeLibvirtChains(): Promise<string[]> {
  const left: string[] = [];
  for (const tool of ['iptables', 'ip6tables']) {
    for (const [table, chain, parent] of LIBVIRT_CHAINS) {
      const rules = await run(tool, ['-w', '-t', table, '-S', chain]);
      if (rules.code !== 0) continue; // no such chain (or no such table): nothing to remove
      if (rules.stdout.trim() !== `-N ${chain}`) {
        left.push(`${tool} -t ${table} ${chain}`);
        continue;
      }
      while ((await run(tool, ['-w', '-t', table, '-D', parent, '-j', chain])).code === 0);
      if ((await run(tool, ['-w', '-t', table, '-X', chain])).code !== 0) {
        left.push(`${tool} -t ${table} ${chain}`);
      }
    }
  }
  return left;
}

/** An interface match on a VM network's bridge (`vlvm` and 6 hex digits) in `iptables -S` output. */
const VM_BRIDGE_MATCH = / -[io] vlvm[0-9a-f]{6}(?= )/;

/**
 * Deletes the rules in libvirt's chains that match a VM network's bridge: libvirt adds them when
 * it starts the network and deletes them with `net-destroy`, which a killed libvirtd never runs.
 * Only while no libvirtd runs (the caller checks). Returns the rules it deleted.
 */
export async function removeVmBridgeRules(): Promise<string[]> {
  const removed: string[] = [];
  for (const tool of ['iptables', 'ip6tables']) {
    for (const [table, chain] of LIBVIRT_CHAINS) {
      const rules = await run(tool, ['-w', '-t', table, '-S', chain]);
      if (rules.code !== 0) continue;
      for (const rule of rules.stdout.split('\n')) {
        // libvirt's rules carry no quoted arguments: the words are the arguments.
        if (!rule.startsWith(`-A ${chain} `) || !VM_BRIDGE_MATCH.test(rule) || rule.includes('"')) {
          continue;
        }
        const args = rule.split(' ').slice(1);
        if ((await run(tool, ['-w', '-t', table, '-D', ...args])).code === 0) {
          removed.push(`${tool} -t ${table} ${rule}`);
        }
      }
    }
  }
  return removed;
}
