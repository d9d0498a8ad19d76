import { run, runChecked } from './exec.js';

/**
 * The lab's addresses come from 198.18.0.0/15 (RFC 2544, reserved for benchmarking): lab `n`
 * (1…127) uses 198.18.2n.0/24, and a blackhole route for 198.18.2n.0/23 is added in the root
 * namespace before anything else, so nothing for the lab can leave through the default route.
 */
export const LAB_NET_PREFIX = '198.18';
export const MAX_NET_INDEX = 127;

/** Routes the lab adds carry this protocol number, so stale ones can be found. */
export const ROUTE_PROTO = '213';

export interface LabNet {
  readonly index: number;
  readonly subnet: string;
  readonly blackhole: string;
  /** The root namespace's address on the lab network. */
  readonly hostAddress: string;
}

export function labNet(index: number): LabNet {
  if (!Number.isInteger(index) || index < 1 || index > MAX_NET_INDEX) {
    throw new Error(`lab network index ${index} out of range 1…${MAX_NET_INDEX}`);
  }
  const third = 2 * index;
  return {
    index,
    subnet: `${LAB_NET_PREFIX}.${third}.0/24`,
    blackhole: `${LAB_NET_PREFIX}.${third}.0/23`,
    hostAddress: `${LAB_NET_PREFIX}.${third}.1`,
  };
}

/** Address `host` (1…254) of lab network `index`. */
export function labAddress(index: number, host: number): string {
  return `${LAB_NET_PREFIX}.${2 * index}.${host}`;
}

export async function ip(args: readonly string[]): Promise<string> {
  return (await runChecked('ip', args)).stdout;
}

/** Network namespaces by name (`ip netns list`). */
export async function netnsList(): Promise<string[]> {
  const out = await run('ip', ['netns', 'list']);
  return out.stdout
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name !== '');
}

/** Links of the root namespace by name. */
export async function rootLinks(): Promise<string[]> {
  const out = await run('ip', ['-j', 'link', 'show']);
  try {
    return (JSON.parse(out.stdout) as { ifname: string }[]).map((link) => link.ifname);
  } catch {
    return [];
  }
}

/** Destinations of the blackhole routes the lab added (protocol {@link ROUTE_PROTO}). */
export async function labBlackholes(): Promise<string[]> {
  const out = await run('ip', ['-j', 'route', 'show', 'proto', ROUTE_PROTO]);
  try {
    return (JSON.parse(out.stdout) as { type?: string; dst: string }[])
      .filter((route) => route.type === 'blackhole')
      .map((route) => route.dst);
  } catch {
    return [];
  }
}

/** Every IPv4 prefix the root namespace has an address in, and every route destination. */
export async function usedPrefixes(): Promise<string[]> {
  const out = await run('ip', ['-j', 'route', 'show', 'table', 'all']);
  try {
    return (JSON.parse(out.stdout) as { dst: string }[]).map((route) => route.dst);
  } catch {
    return [];
  }
}
