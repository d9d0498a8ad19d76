/**
 * The shell programs the provisioner runs on a hypervisor host. Each is a constant run as
 * `sh -c SCRIPT vlab-libvirt ARG…`: arguments arrive as positional parameters, never pasted into
 * the script.
 *
 * The host's directory (`hosts.<name>.dir`) holds `masters/<image>/<revision>-<sha256 prefix>.qcow2`
 * — a master is named by its content, so a revision number used again after a delete never
 * meets an old master, and a master that exists is complete (it appears with one `mv`) — and
 * `vms/<domain>/` with the VM's overlay `disk.qcow2`, its `identity.img`, `domain.xml` and
 * `console.log`. QEMU runs as its own user and libvirt changes the owner of a running VM's disks:
 * masters and directories are world-readable, nothing relies on root owning them.
 */

/**
 * The start of a script with a scratch directory `$dir` made in `$1`-relative `$scratch_in`,
 * removed on exit and on HUP, INT and TERM (an abort ends the remote process group), even when
 * signals keep coming: each trap first ignores them, `rm` inherits that.
 */
const SCRATCH_DIR = `dir=
gone() { trap '' HUP INT TERM; [ -z "$dir" ] || rm -rf -- "$dir"; }
trap gone EXIT
trap 'trap "" HUP INT TERM; gone; exit 129' HUP
trap 'trap "" HUP INT TERM; gone; exit 130' INT
trap 'trap "" HUP INT TERM; gone; exit 143' TERM
dir=$(trap '' HUP INT TERM; mktemp -d "$scratch_in/.vlab.XXXXXX")`;

/**
 * The start of every script that writes: errors stop it, files and directories it makes are
 * readable by QEMU's user whatever the login's umask, and tools speak the C locale (their messages
 * are read here).
 */
const PROLOGUE = `set -eu
umask 022
export LC_ALL=C`;

/** Exit status of a script that found the bytes it got or made not matching their checksum. */
export const CORRUPT_EXIT = 4;

/** The line the streaming scripts end their stderr with: `vlab-sha256 <hex> <bytes>`. */
export const SHA256_LINE = /^vlab-sha256 ([0-9a-f]{64}) ([0-9]+)$/m;

/** A progress line of `qemu-img convert -p` (`    (42.00/100%)` and a carriage return). */
export const QEMU_PROGRESS = /[ \t]*\(\d+\.\d+\/100%\)\r?\n?/g;

/** `$1` file: prints `yes` when it is a regular file, else nothing. */
export const FILE_EXISTS = `if [ -f "$1" ]; then echo yes; fi`;

/**
 * `$1` the image's masters directory, `$2` the master's file name, `$3` the stored format
 * (`raw+zstd` or `raw`), `$4` the expected SHA-256 of the raw disk, `$5` its size in bytes; the
 * stored bytes on stdin. Decodes them into a sparse raw file while hashing them; stored bytes
 * that do not decode, or decode to another size or checksum, exit {@link CORRUPT_EXIT}. Then
 * converts to qcow2 and publishes the master with one `mv` — unless another load published it
 * meanwhile (the same bytes, by its name), which is then kept.
 */
export const RECEIVE_MASTER = `${PROLOGUE}
idir=$1 name=$2 format=$3 sum=$4 size=$5
case $format in
  raw+zstd) command -v zstd >/dev/null || { echo "zstd is missing on the host" >&2; exit 127; } ;;
  raw) ;;
  *) echo "unknown stored format $format" >&2; exit 2 ;;
esac
mkdir -p -- "$idir"
chmod 755 -- "$idir"
scratch_in=$idir
${SCRATCH_DIR}
mkfifo "$dir/tee"
(sha256sum <"$dir/tee" | cut -d' ' -f1 >"$dir/sum") &
hasher=$!
# dash has no pipefail: each stage but the last records its own status (set -e spares the
# left side of ||).
{ st=0; if [ "$format" = raw ]; then cat || st=$?; else zstd -q -dc || st=$?; fi; echo "$st" >"$dir/decoded"; } |
  { st=0; tee "$dir/tee" || st=$?; echo "$st" >"$dir/teed"; } |
  dd of="$dir/disk.raw" bs=4M iflag=fullblock conv=sparse status=none
wait "$hasher"
[ "$(cat "$dir/teed")" = 0 ] || { echo "tee failed on the host" >&2; exit 1; }
if [ "$(cat "$dir/decoded")" != 0 ]; then
  echo "the stored bytes do not decode as $format" >&2
  exit ${CORRUPT_EXIT}
fi
got=$(cat "$dir/sum")
have=$(stat -c %s "$dir/disk.raw")
if [ "$got" != "$sum" ] || [ "$have" != "$size" ]; then
  echo "the image arrived as $have bytes with SHA-256 $got; the store says $size bytes with SHA-256 $sum" >&2
  exit ${CORRUPT_EXIT}
fi
qemu-img convert -p -f raw -O qcow2 "$dir/disk.raw" "$dir/master.qcow2" >&2
chmod 644 "$dir/master.qcow2"
sync "$dir/master.qcow2"
[ -f "$idir/$name" ] || mv -f -- "$dir/master.qcow2" "$idir/$name"`;

/**
 * `$1` master, `$2` the VM's directory: a fresh copy-on-write overlay `disk.qcow2` on the master
 * (an old overlay, identity disk and console log of the VM are removed first). The directory and
 * its parent (`vms`) are made readable by QEMU's user.
 */
export const CREATE_OVERLAY = `${PROLOGUE}
master=$1 vm=$2
mkdir -p -- "$vm"
chmod 755 -- "\${vm%/*}" "$vm"
rm -f -- "$vm/disk.qcow2" "$vm/identity.img" "$vm/console.log"
qemu-img create -q -f qcow2 -F qcow2 -b "$master" "$vm/disk.qcow2"`;

/** `$1` the VM's directory: removes it with what it holds (overlay, identity disk, console log). */
export const REMOVE_VM_DIR = `${PROLOGUE}
case $1 in */vms/?*) rm -rf -- "$1" ;; *) echo "refusing to remove $1" >&2; exit 2 ;; esac`;

/**
 * `$1` overlay, `$2` the image's masters directory, `$3` the new revision: checks the overlay
 * (`qemu-img check`), flattens it and its backing chain into `.capture-<rev>.qcow2`
 * (`qemu-img convert -c`; one capture of an image at a time on this host: `flock`) and checks
 * that too — a failed check exits {@link CORRUPT_EXIT}. Progress on stderr, nothing on stdout.
 */
export const FLATTEN = `${PROLOGUE}
overlay=$1 idir=$2 rev=$3
mkdir -p -- "$idir"
chmod 755 -- "$idir"
exec 9>"$idir/.capture.lock"
flock 9
scratch_in=$idir
${SCRATCH_DIR}
# qemu-img check: 0 clean, 3 leaked clusters only (harmless: a guest that was powered off hard),
# 2 corruption, 1 the check could not run.
checked() {
  rc=0
  qemu-img check -q -f qcow2 "$1" >"$dir/check" 2>&1 || rc=$?
  case $rc in
    0 | 3) ;;
    2)
      echo "qemu-img check of $2 failed: $(head -c 2000 "$dir/check")" >&2
      exit ${CORRUPT_EXIT}
      ;;
    *)
      echo "qemu-img check of $2 could not run: $(head -c 2000 "$dir/check")" >&2
      exit 1
      ;;
  esac
}
checked "$overlay" "the VM's disk"
# Progress (-p) goes to stderr: the caller's sign of life.
qemu-img convert -p -c -f qcow2 -O qcow2 "$overlay" "$dir/flat.qcow2" >&2
checked "$dir/flat.qcow2" "the flattened disk"
chmod 644 "$dir/flat.qcow2"
mv -f -- "$dir/flat.qcow2" "$idir/.capture-$rev.qcow2"`;

/**
 * `$1` the image's masters directory, `$2` the revision, `$3` zstd level: while the flattened
 * `.capture-<rev>.qcow2` is flushed to disk, writes its raw disk, zstd-compressed, on stdout —
 * hashed on the way, the SHA-256 and byte count last on stderr as `vlab-sha256 HEX BYTES`.
 */
export const STREAM_CAPTURE = `${PROLOGUE}
idir=$1 level=$3
flat=$idir/.capture-$2.qcow2
scratch_in=$idir
${SCRATCH_DIR}
# Flushed while the raw disk is made and streamed: the publish's sync finds it done.
sync "$flat" &
flushing=$!
# Progress (-p) goes to stderr: the caller's sign of life while nothing streams yet.
qemu-img convert -p -f qcow2 -O raw "$flat" "$dir/disk.raw" >&2
mkfifo "$dir/tee"
(sha256sum <"$dir/tee" | cut -d' ' -f1 >"$dir/sum") &
hasher=$!
# zstd's status is the pipeline's; tee (the reader of the disk) records its own.
{ st=0; tee "$dir/tee" <"$dir/disk.raw" || st=$?; echo "$st" >"$dir/teed"; } | zstd -q -c "-$level" -T0
wait "$hasher"
[ "$(cat "$dir/teed")" = 0 ] || { echo "reading the flattened disk failed on the host" >&2; exit 1; }
wait "$flushing"
echo "vlab-sha256 $(cat "$dir/sum") $(stat -c %s "$dir/disk.raw")" >&2`;

/** `$1` the image's masters directory, `$2` revision, `$3` the master's file name: publishes the flattened capture as the host's master. */
export const PUBLISH_CAPTURE = `${PROLOGUE}
sync "$1/.capture-$2.qcow2"
mv -f -- "$1/.capture-$2.qcow2" "$1/$3"`;

/**
 * `$1` libvirt URI, `$2` domain: a hard power-off when it runs, then `undefine` — one host call
 * for what a load, a release and a new definition do first.
 */
export const REMOVE_DOMAIN = `export LC_ALL=C
out=$(virsh -q -c "$1" destroy --domain "$2" 2>&1) || case $out in
  *"domain is not running"*) ;;
  *) printf '%s\\n' "$out" >&2; exit 1 ;;
esac
virsh -q -c "$1" undefine --domain "$2"`;

/**
 * `$1` libvirt URI, `$2` domain, `$3` its identity disk: the disk out of the domain's persistent
 * definition, then off the host's disk (it holds private keys, so it goes even when the detach
 * failed; the detach's status is the script's) — one host call.
 */
export const DROP_IDENTITY_DISK = `export LC_ALL=C
st=0
virsh -q -c "$1" detach-disk --domain "$2" --target vdb --config || st=$?
rm -f -- "$3"
exit "$st"`;

/** `$1` file: removes it (an identity disk: it holds private keys). */
export const REMOVE_FILE = 'rm -f -- "$1"';

/** `$1` the image's masters directory, `$2` revision: removes what an unfinished capture left. */
export const DISCARD_CAPTURE = `rm -f -- "$1/.capture-$2.qcow2"`;
