import { coreError } from '@vlab/core';

/**
 * What differs between Linux distribution families, in one small strategy per family. Chosen by
 * {@link detectDistro} from `/etc/os-release`.
 * @public
 */
export interface DistroFamily {
  /** `debian` (Debian, Ubuntu and derivatives) or `rhel` (RHEL, Rocky, Alma, CentOS, Fedora). */
  readonly id: 'debian' | 'rhel';
  /** The systemd unit of the OpenSSH server. */
  readonly sshService: string;
  /** Where DHCP clients keep leases; `preCapture` empties them. */
  readonly leaseGlobs: readonly string[];
}

const DEBIAN: DistroFamily = {
  id: 'debian',
  sshService: 'ssh',
  leaseGlobs: [
    '/var/lib/dhcp/*.leases',
    '/var/lib/NetworkManager/*.lease',
    '/var/lib/systemd/network/*.lease',
  ],
};

const RHEL: DistroFamily = {
  id: 'rhel',
  sshService: 'sshd',
  leaseGlobs: ['/var/lib/dhclient/*.lease*', '/var/lib/NetworkManager/*.lease'],
};

/** The families the module knows, by `/etc/os-release` ID. @public */
export const DISTRO_FAMILIES: Readonly<Record<DistroFamily['id'], DistroFamily>> = {
  debian: DEBIAN,
  rhel: RHEL,
};

const FAMILY_OF_ID: Readonly<Record<string, DistroFamily>> = {
  debian: DEBIAN,
  ubuntu: DEBIAN,
  rhel: RHEL,
  centos: RHEL,
  rocky: RHEL,
  almalinux: RHEL,
  fedora: RHEL,
};

/** The fields of an os-release file (`KEY=value`, values optionally quoted). */
export function parseOsRelease(text: string): Readonly<Record<string, string>> {
  const fields: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (match === null) continue;
    const [, key = '', raw = ''] = match;
    const quoted = /^(["'])(.*)\1$/.exec(raw);
    fields[key] = (quoted?.[2] ?? raw).replace(/\\(["$`\\])/g, '$1');
  }
  return fields;
}

/**
 * The family of the distribution that `/etc/os-release` describes: by `ID`, else by the first
 * known `ID_LIKE`. Throws `VLAB_ERR_CAPABILITY_MISSING` for any other.
 * @public
 */
export function detectDistro(osRelease: string, computer: string): DistroFamily {
  const fields = parseOsRelease(osRelease);
  const ids = [fields['ID'] ?? '', ...(fields['ID_LIKE'] ?? '').split(/\s+/)];
  for (const id of ids) {
    const family = FAMILY_OF_ID[id.toLowerCase()];
    if (family !== undefined) return family;
  }
  throw coreError(
    'VLAB_ERR_CAPABILITY_MISSING',
    `os-linux does not know the distribution "${fields['PRETTY_NAME'] ?? fields['ID'] ?? 'unknown'}"`,
    {
      computer,
      hint: `os-linux knows the Debian family (${Object.keys(FAMILY_OF_ID).slice(0, 2).join(', ')}) and the RHEL family (${Object.keys(FAMILY_OF_ID).slice(2).join(', ')}), by ID or ID_LIKE in /etc/os-release.`,
    },
  );
}
