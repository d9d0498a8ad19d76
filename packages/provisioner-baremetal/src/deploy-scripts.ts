/**
 * The shell programs the provisioner runs in the deploy environment. Each is a constant run as
 * `sh -c SCRIPT vlab-deploy ARG…`: arguments arrive as positional parameters, never pasted into
 * the script, and secrets only through stdin.
 */

/**
 * The start of a script with a scratch directory `$dir`, removed on exit and on HUP, INT and TERM
 * (an abort ends the remote process group), even when signals keep coming: one arriving while a
 * trap runs would end it before its `rm`. So each trap first ignores them (inline too: bash can
 * re-enter a trap before a function in it starts), `rm` inherits that, and each signal trap
 * cleans up itself. mktemp ignores them too, so it never makes a directory `$dir` does not get.
 */
const SCRATCH_DIR = `dir=
gone() { trap '' HUP INT TERM; [ -z "$dir" ] || rm -rf -- "$dir"; }
trap gone EXIT
trap 'trap "" HUP INT TERM; gone; exit 129' HUP
trap 'trap "" HUP INT TERM; gone; exit 130' INT
trap 'trap "" HUP INT TERM; gone; exit 143' TERM
dir=$(trap '' HUP INT TERM; mktemp -d)`;

/** Exit status of a script that found the disk smaller than the image. */
export const DISK_TOO_SMALL_EXIT = 3;

/** `$1` disk: prints its size in bytes. */
export const DISK_SIZE = 'blockdev --getsize64 "$1"';

/**
 * `$1` disk, `$2` image size in bytes, `$3` `sparse` or `full`: writes the zstd stream on stdin
 * onto the disk. Sparse: discard the disk first (it then reads zeroes), write only non-zero
 * blocks; falls back to a full write where the disk cannot discard.
 */
export const WRITE_DISK = `set -eu
disk=$1 size=$2 mode=$3
have=$(blockdev --getsize64 "$disk")
if [ "$have" -lt "$size" ]; then
  echo "the disk $disk holds $have bytes, the image $size" >&2
  exit ${DISK_TOO_SMALL_EXIT}
fi
conv=fsync
if [ "$mode" = sparse ] && blkdiscard -f "$disk" 2>/dev/null; then conv=sparse,fsync; fi
zstd -q -dc | dd of="$disk" bs=4M iflag=fullblock conv=$conv status=none`;

/** `$1` disk, `$2` byte count: the SHA-256 of the disk's first `$2` bytes, read back from the disk. */
export const HASH_DISK = `set -eu
dd if="$1" bs=4M iflag=count_bytes count="$2" status=none | sha256sum | cut -d' ' -f1`;

/** The line {@link READ_DISK} ends its stderr with: `vlab-sha256 <hex> <bytes>`. */
export const READ_DISK_SUM = /^vlab-sha256 ([0-9a-f]{64}) ([0-9]+)$/m;

/**
 * `$1` disk, `$2` zstd level: the whole disk, zstd-compressed, on stdout; hashed on the way
 * (one read of the disk) — its SHA-256 and byte count go to stderr as `vlab-sha256 HEX BYTES`.
 */
export const READ_DISK = `set -eu
disk=$1 level=$2
${SCRATCH_DIR}
mkfifo "$dir/tee"
(sha256sum <"$dir/tee" | cut -d' ' -f1 >"$dir/sum") &
hasher=$!
dd if="$disk" bs=4M status=none | tee "$dir/tee" | zstd -q -c "-$level" -T0
wait "$hasher"
echo "vlab-sha256 $(cat "$dir/sum") $(blockdev --getsize64 "$disk")" >&2`;

/**
 * `$1` root file system (ext2/3/4, not mounted), `$2` the public key line; the private key on
 * stdin: replaces every `/etc/ssh/ssh_host_*` file with this one pair (mode 0600/0644, root), so
 * the machine presents exactly the key pinned for it. Written with debugfs: the file system is
 * never mounted. debugfs exits 0 even when a request fails, so the result is read back.
 */
export const PUT_HOST_KEY = `set -eu
fs=$1 pub=$2
${SCRATCH_DIR}
umask 077
cat >"$dir/key"
printf '%s\\n' "$pub" >"$dir/key.pub"
debugfs -R 'ls -p /etc/ssh' "$fs" 2>/dev/null | while IFS=/ read -r _ _ _ _ _ name _; do
  case $name in ssh_host_*) printf 'rm /etc/ssh/%s\\n' "$name" ;; esac
done >"$dir/requests"
for f in ssh_host_ed25519_key:0100600 ssh_host_ed25519_key.pub:0100644; do
  name=\${f%%:*} mode=\${f#*:} src=$dir/key
  case $name in *.pub) src=$dir/key.pub ;; esac
  printf 'write %s /etc/ssh/%s\\nsif /etc/ssh/%s mode %s\\nsif /etc/ssh/%s uid 0\\nsif /etc/ssh/%s gid 0\\n' \\
    "$src" "$name" "$name" "$mode" "$name" "$name" >>"$dir/requests"
done
debugfs -w -f "$dir/requests" "$fs" >"$dir/out" 2>&1 || { cat "$dir/out" >&2; exit 1; }
for f in key key.pub; do
  name=ssh_host_ed25519_$f
  debugfs -R "dump /etc/ssh/$name $dir/check" "$fs" >/dev/null 2>&1
  cmp -s "$dir/check" "$dir/$f" || { echo "host key file /etc/ssh/$name was not written" >&2; cat "$dir/out" >&2; exit 1; }
  rm -f "$dir/check"
done
sync`;
