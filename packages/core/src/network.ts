import { isIP } from 'node:net';

/**
 * An IP address or prefix, as a firewall rule takes it.
 * @public
 */
export interface Network {
  /** IPv4 or IPv6. */
  readonly family: 4 | 6;
  /** The address, or `address/bits` for a prefix shorter than the whole address. */
  readonly text: string;
}

/** How to write what {@link parseNetwork} accepts. @public */
export const NETWORK_HINT = 'Give addresses like 192.0.2.7, 192.0.2.0/24 or 2001:db8::/64.';

/**
 * `value` as an IPv4/IPv6 address or CIDR prefix (a whole-address prefix becomes the address), or
 * `undefined` when it is neither. One rule for the `allowFrom` of users and the management
 * networks of every OS module.
 * @public
 */
export function parseNetwork(value: string): Network | undefined {
  const [address = '', prefix, extra] = value.split('/');
  const family = isIP(address);
  const max = family === 4 ? 32 : 128;
  const bits = prefix === undefined ? max : /^\d{1,3}$/.test(prefix) ? Number(prefix) : -1;
  if (family === 0 || extra !== undefined || bits < 0 || bits > max) return undefined;
  return { family: family === 4 ? 4 : 6, text: bits === max ? address : `${address}/${bits}` };
}

/** `networks` without repeats (the same `text`), in first-seen order. @public */
export function uniqueNetworks(networks: readonly Network[]): Network[] {
  const seen = new Map<string, Network>();
  for (const network of networks) if (!seen.has(network.text)) seen.set(network.text, network);
  return [...seen.values()];
}
