import { IMAGE_STAMP_PATHS } from '@vlab/core';

/** Every file the module writes on a guest, in one place (the README lists them too). */
export const GUEST_PATHS = {
  /** The image stamp (fixed by the core contract). */
  stamp: IMAGE_STAMP_PATHS.posix,
  /** The accounts and addresses of the running reservation: what `sanitize` undoes. */
  reservation: '/var/lib/vlab/reservation.json',
  /** Users' authorized keys, root-owned, one file per login (never in a user-writable home). */
  authorizedKeysDir: '/etc/ssh/vlab-authorized-keys',
  /** The sshd drop-in that adds {@link GUEST_PATHS.authorizedKeysDir} to `AuthorizedKeysFile`. */
  sshdDropIn: '/etc/ssh/sshd_config.d/50-vlab.conf',
  /** Sudo rights of admin users, one file per login (`vlab-<login>`). */
  sudoersDir: '/etc/sudoers.d',
  /** The firewall: nftables ruleset, iptables rules and their loader (the unit: `vlab-firewall.service`). */
  firewallNft: '/etc/vlab/firewall.nft',
  firewallIptables4: '/etc/vlab/firewall.iptables',
  firewallIptables6: '/etc/vlab/firewall.ip6tables',
  firewallScript: '/etc/vlab/firewall-iptables.sh',
  /** Units the image declares for users (one per line), started by `reserve`, stopped by `sanitize`. */
  reservationServices: '/etc/vlab/reservation-services',
  /** Executables run by `postReservation`, in name order. */
  postReservationDir: '/etc/vlab/post-reservation.d',
  /** Time servers: systemd-timesyncd and chrony drop-ins. */
  timesyncdDropIn: '/etc/systemd/timesyncd.conf.d/50-vlab.conf',
  chronySources: '/etc/chrony/sources.d/vlab.sources',
  rootAuthorizedKeys: '/root/.ssh/authorized_keys',
  /** The identity disk's boot script (the unit: `vlab-identity.service`); stays in images. */
  identityScript: '/usr/local/lib/vlab/vlab-identity',
} as const;
