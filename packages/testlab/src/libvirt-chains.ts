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
