import { IDENTITY_DISK } from '@vlab/core';
import type { Guest } from './guest.js';
import { GUEST_PATHS } from './paths.js';
import { installUnit, UNIT_DIR } from './systemd-unit.js';

// The identity disk protocol of @vlab/core (IDENTITY_DISK, version 1): a provisioner that cannot
// write a guest's disk before its first boot attaches a small ext4 disk labelled VLAB-ID holding
// the machine's SSH host keys; the image installs them at boot, before the SSH server starts, so
// the first contact is already trusted. Script and unit are fixed texts: no data is pasted in.

/** The boot unit that runs {@link IDENTITY_SCRIPT}. */
export const IDENTITY_UNIT = 'vlab-identity.service';

/**
 * The boot-time script (POSIX sh). Finds the disk by its label with `blkid -L` (no udev needed:
 * containers and early boot have no `/dev/disk/by-label`), exits 0 when there is none, reads it
 * without mounting (`debugfs`, read-only), accepts only a manifest of version 1, checks that each
 * private key gives its `.pub`, then replaces every `/etc/ssh/ssh_host_*` file with the disk's
 * keys (private `0600`, public `0644`, root's). Logs what it did, never a key. Anything wrong with
 * a disk that is there leaves the keys as they were and exits 1. A signal (HUP, INT, TERM) ends it
 * with 128 + its number and removes its scratch directory, even when signals keep coming.
 * `VLAB_IDENTITY_SSH_DIR` overrides `/etc/ssh` for tests only (systemd starts the unit with a
 * clean environment).
 */
export const IDENTITY_SCRIPT = `#!/bin/sh
# Written by vlab os-linux: the identity disk protocol (@vlab/core IDENTITY_DISK, version ${IDENTITY_DISK.version}).
# Run at boot by ${IDENTITY_UNIT}, before the SSH server starts. When a disk labelled
# ${IDENTITY_DISK.label} is attached, every SSH host key is replaced with the disk's. Do not edit.
# shellcheck disable=SC2046,SC2086 # fields are split on purpose, with globbing off (set -f)
set -u
umask 077
PATH=/usr/sbin:/usr/bin:/sbin:/bin
ssh_dir=\${VLAB_IDENTITY_SSH_DIR:-/etc/ssh}
label=${IDENTITY_DISK.label}
manifest=/${IDENTITY_DISK.manifestPath}
keys=/${IDENTITY_DISK.hostKeyDirectory}
nl='
'
work=

log() { printf '%s\\n' "$*"; }
fail() {
  log "$*; the host keys are left as they were"
  exit 1
}
# A signal can come again while a trap runs, and would end it before its rm: each trap first
# ignores them (inline too: bash can re-enter a trap before a function in it starts), rm inherits
# that, and each signal trap cleans up itself.
cleanup() {
  trap '' HUP INT TERM
  [ -z "$work" ] || rm -rf -- "$work"
}
trap cleanup EXIT
trap 'trap "" HUP INT TERM; cleanup; exit 129' HUP
trap 'trap "" HUP INT TERM; cleanup; exit 130' INT
trap 'trap "" HUP INT TERM; cleanup; exit 143' TERM

command -v blkid >/dev/null 2>&1 || fail "blkid is missing: cannot look for an identity disk"
dev=$(blkid -L "$label" 2>/dev/null) || dev=
if [ -z "$dev" ]; then
  log "no identity disk (no file system labelled $label): nothing to do"
  exit 0
fi
[ -b "$dev" ] || fail "the identity disk $dev is not a block device"
fs=$(blkid -o value -s TYPE "$dev" 2>/dev/null) || fs=
[ "$fs" = ${IDENTITY_DISK.fileSystem} ] || fail "the identity disk $dev is not ${IDENTITY_DISK.fileSystem}"
command -v debugfs >/dev/null 2>&1 || fail "debugfs (e2fsprogs) is missing: cannot read the identity disk $dev"
command -v ssh-keygen >/dev/null 2>&1 || fail "ssh-keygen is missing: cannot check the identity disk's keys"

# Read-only, never mounted. debugfs exits 0 even for a missing file: callers check the output.
on_disk() { debugfs -R "$1" "$dev" 2>/dev/null; }

# The manifest: a flat JSON object holding "version": 1 (whitespace ignored; no nesting, escapes
# or repeated version).
set -f
text=$(on_disk "cat $manifest" | tr -d ' \\t\\r\\n')
case $text in
  *\\\\* | *'['* | *']'*) text= ;;
  '{'*'}')
    text=\${text#'{'}
    text=\${text%'}'}
    ;;
  *) text= ;;
esac
case $text in *'{'* | *'}'*) text= ;; esac
version=
IFS=,
for member in $text; do
  case $member in
    '"version":'*)
      if [ -n "$version" ]; then
        version=
        break
      fi
      version=\${member#'"version":'}
      ;;
  esac
done
unset IFS
[ -n "$version" ] || fail "the identity disk $dev has no valid $manifest"
if [ "$version" != ${IDENTITY_DISK.version} ]; then
  case $version in *[!0-9]*) version='not a number' ;; esac
  log "the identity disk $dev is of version $version; this image knows version ${IDENTITY_DISK.version} only: ignored"
  exit 0
fi

# The key pairs: regular files ssh_host_<type>_key and ssh_host_<type>_key.pub ("ls -p" lines:
# /inode/mode/uid/gid/name/size/).
types=
IFS=$nl
for entry in $(on_disk "ls -p $keys"); do
  IFS=/
  set -- $entry
  IFS=$nl
  [ $# -ge 6 ] || continue
  case $3 in 100*) ;; *) continue ;; esac
  case $6 in ssh_host_*_key) ;; *) continue ;; esac
  type=\${6#ssh_host_}
  type=\${type%_key}
  case $type in '' | *[!a-z0-9]*) continue ;; esac
  types="$types $type"
done
unset IFS
[ -n "$types" ] || fail "the identity disk $dev holds no host key under $keys"

# mktemp ignores the signals too: it never makes a directory that $work does not get.
work=$(trap '' HUP INT TERM; mktemp -d "$ssh_dir/.vlab-identity.XXXXXX") || fail "cannot write to $ssh_dir"
installed=
found=
for type in $types; do
  name=ssh_host_\${type}_key
  on_disk "cat $keys/$name" >"$work/$name"
  on_disk "cat $keys/$name.pub" >"$work/$name.pub"
  if [ ! -s "$work/$name" ] || [ ! -s "$work/$name.pub" ]; then
    fail "the identity disk $dev lacks $keys/$name or $keys/$name.pub"
  fi
  # The private key must give the public key (type and base64; comments may differ).
  derived=$(ssh-keygen -y -P '' -f "$work/$name" 2>/dev/null </dev/null) ||
    fail "$keys/$name on the identity disk $dev is not an unencrypted private key"
  set -- $derived
  derived="\${1:-} \${2:-}"
  set -- $(cat "$work/$name.pub")
  [ "$derived" = "\${1:-} \${2:-}" ] ||
    fail "$keys/$name.pub on the identity disk $dev is not the public key of $keys/$name"
  { chown 0:0 "$work/$name" "$work/$name.pub" && chmod 600 "$work/$name" && chmod 644 "$work/$name.pub"; } ||
    fail "cannot set the owner and mode of the new keys"
  fingerprint=$(ssh-keygen -l -f "$work/$name.pub" 2>/dev/null </dev/null) || fingerprint=
  set -- $fingerprint
  installed="$installed $name $name.pub"
  found="$found\${found:+, }$type \${2:-}"
done

# Every key read and checked: install them, then remove every other host key file.
for name in $installed; do
  mv -f -- "$work/$name" "$ssh_dir/$name" || {
    log "cannot install $ssh_dir/$name"
    exit 1
  }
done
removed=0
set +f
for file in "$ssh_dir"/ssh_host_*; do
  [ -e "$file" ] || [ -L "$file" ] || continue
  case " $installed " in *" \${file##*/} "*) continue ;; esac
  rm -f -- "$file" && removed=$((removed + 1))
done
log "installed the SSH host keys of the identity disk $dev ($found); removed $removed other host key files"
`;

/**
 * The unit: a oneshot early in the boot (`sysinit.target`, which a container boot reaches too),
 * after the local file systems and before sshd in any of its forms and before the unit that makes
 * keys for a keyless image.
 */
export const IDENTITY_UNIT_TEXT = `# Written by vlab os-linux: SSH host keys from an identity disk (@vlab/core IDENTITY_DISK).
[Unit]
Description=vlab: SSH host keys from an identity disk
DefaultDependencies=no
After=local-fs.target
Before=sysinit.target ssh.service sshd.service ssh.socket sshd.socket vlab-ssh-host-keys.service shutdown.target
Conflicts=shutdown.target

[Service]
Type=oneshot
ExecStart=/bin/sh ${GUEST_PATHS.identityScript}
SyslogIdentifier=vlab-identity
TimeoutStartSec=120

[Install]
WantedBy=sysinit.target
`;

/**
 * Installs the identity disk script and its enabled unit (compare-then-write); returns whether
 * anything changed. Harmless on a boot without an identity disk.
 */
export async function installIdentityDisk(guest: Guest): Promise<boolean> {
  const script = await guest.writeFile(GUEST_PATHS.identityScript, IDENTITY_SCRIPT, {
    mode: 0o755,
  });
  const unit = await installUnit(guest, IDENTITY_UNIT, IDENTITY_UNIT_TEXT);
  return script || unit;
}

/**
 * One entry of a Linux root file system that an image builder writes (no running guest needed).
 * @public
 */
export interface ImageFile {
  /** Absolute path in the image (`/etc/systemd/system/vlab-identity.service`). */
  readonly path: string;
  /** The file's text (UTF-8). Absent for a symlink. */
  readonly data?: string;
  /** The file's mode (`0o755` for a script). Absent for a symlink. */
  readonly mode?: number;
  /** The symlink's target, when the entry is a symlink. */
  readonly symlink?: string;
}

/**
 * What an image builder puts into a Linux root file system (owned by root) so that the image's
 * very first boot already takes its SSH host keys from an identity disk: the script
 * `/usr/local/lib/vlab/vlab-identity`, the unit `vlab-identity.service` and the symlink that
 * enables it (what `systemctl enable` makes), the same texts `postLoad` and `preCapture` install
 * in a running guest.
 * @public
 */
export function identityDiskImageFiles(): readonly ImageFile[] {
  const unit = `${UNIT_DIR}/${IDENTITY_UNIT}`;
  return [
    { path: GUEST_PATHS.identityScript, data: IDENTITY_SCRIPT, mode: 0o755 },
    { path: unit, data: IDENTITY_UNIT_TEXT, mode: 0o644 },
    { path: `${UNIT_DIR}/sysinit.target.wants/${IDENTITY_UNIT}`, symlink: unit },
  ];
}
