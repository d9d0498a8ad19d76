import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  chmod,
  cp,
  mkdir,
  open,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { join, posix } from 'node:path';
import { run, runChecked } from './exec.js';
import { BASE_PACKAGES, debianMirror, generalize, type Suite } from './image.js';
import { withMachineLock } from './lock.js';
import { cacheDir } from './paths.js';
import { requireFreeSpace } from './preflight.js';

/**
 * Bump when the recipe below changes what goes into a VM image: cached images of an older recipe
 * are then rebuilt (under new names), never reused.
 */
export const VM_IMAGE_RECIPE = 1;

/**
 * The VM image's packages: the base image's plus a kernel (its initramfs has virtio with
 * initramfs-tools' default `MODULES=most`), and udev and kmod, which a real boot needs (the
 * nspawn guests share the host's kernel and need neither).
 */
export const VM_PACKAGES = [
  ...BASE_PACKAGES,
  'linux-image-amd64',
  'initramfs-tools',
  'udev',
  'kmod',
] as const;

/** Virtual size of the VM disk (the qcow2 master holds only what is used, ~700 MB). */
export const DEFAULT_VM_DISK_BYTES = 3 * 2 ** 30;

/**
 * The QEMU fw_cfg entry a VM reads its addresses from at boot, one `MAC ADDRESS/PREFIX` line per
 * interface: a domain gives it with `<sysinfo type='fwcfg'><entry name='opt/org.vlab/net'>`. No
 * DHCP server, no address in the image: the same master serves every VM, and the address stays
 * the computer's attribute, given by whoever defines the domain. See {@link vmNetConfig}.
 */
export const VM_NET_FW_CFG = 'opt/org.vlab/net';

/** Where the image keeps its boot-time network script, and the unit that runs it. */
const NET_SCRIPT = '/usr/local/lib/vlab/vlab-testlab-net';
const NET_UNIT = 'vlab-testlab-net.service';
const HOST_KEYS_UNIT = 'vlab-testlab-host-keys.service';

/** One interface of a VM: its MAC (as in the domain) and its address with prefix length. */
export interface VmInterfaceAddress {
  readonly mac: string;
  /** `198.18.100.11/24` */
  readonly address: string;
}

/** The text of the {@link VM_NET_FW_CFG} entry for `interfaces` (validated: it ends in a VM). */
export function vmNetConfig(interfaces: readonly VmInterfaceAddress[]): string {
  return interfaces
    .map(({ mac, address }) => {
      if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(mac)) throw new Error(`bad MAC ${mac}`);
      if (!/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(address)) {
        throw new Error(`bad address ${address} (want a.b.c.d/prefix)`);
      }
      return `${mac} ${address}\n`;
    })
    .join('');
}

/**
 * The boot script (POSIX sh, a fixed text): applies the fw_cfg entry's addresses to the links with
 * those MACs. `qemu_fw_cfg` and `virtio_net` are loaded here rather than left to udev, so the
 * entry and the links are there without waiting for coldplug; a link is still waited for (30 s).
 */
const NET_SCRIPT_TEXT = `#!/bin/sh
# Written by @vlab/testlab (VM image): this VM's addresses from QEMU's fw_cfg entry
# ${VM_NET_FW_CFG}, "MAC ADDRESS/PREFIX" lines given by the domain definition. No DHCP.
set -u
PATH=/usr/sbin:/usr/bin:/sbin:/bin
entry=/sys/firmware/qemu_fw_cfg/by_name/${VM_NET_FW_CFG}/raw
modprobe -q qemu_fw_cfg || true
modprobe -q virtio_net || true
if [ ! -r "$entry" ]; then
  echo "no fw_cfg entry ${VM_NET_FW_CFG}: no address configured"
  exit 0
fi
status=0
while read -r mac address _ || [ -n "\${mac:-}" ]; do
  [ -n "$mac" ] || continue
  dev=
  i=0
  while [ -z "$dev" ] && [ "$i" -lt 300 ]; do
    for link in /sys/class/net/*; do
      [ "$(cat "$link/address" 2>/dev/null)" = "$mac" ] && dev=\${link##*/}
    done
    [ -n "$dev" ] || { sleep 0.1; i=$((i + 1)); }
  done
  if [ -z "$dev" ]; then
    echo "no network interface with MAC $mac"
    status=1
  elif ip link set dev "$dev" up && ip address replace "$address" dev "$dev"; then
    echo "$dev ($mac): $address"
  else
    status=1
  fi
  mac=
done <"$entry"
exit $status
`;

const NET_UNIT_TEXT = `# Written by @vlab/testlab (VM image): addresses from QEMU fw_cfg (${VM_NET_FW_CFG}).
[Unit]
Description=vlab testlab: network addresses from QEMU fw_cfg
After=systemd-udevd.service
Wants=network-pre.target
Before=network-pre.target network.target ssh.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh ${NET_SCRIPT}
# On the serial console too: the one place to look when a VM never answers.
StandardOutput=journal+console

[Install]
WantedBy=multi-user.target
`;

/**
 * A generalized image has no host keys and Debian's sshd does not start without them. This unit
 * makes one on a boot that found none — after os-linux's identity-disk unit
 * (`vlab-identity.service`, when an image carries it), so keys from an identity disk win. Only
 * ed25519, as an identity disk holds (core's `generateHostKey`): `ssh-keygen -A` (RSA too) took
 * 14.7 s of a 26 s TCG boot, on the path to sshd.
 */
const HOST_KEYS_UNIT_TEXT = `# Written by @vlab/testlab (VM image): an SSH host key for a boot without any.
[Unit]
Description=vlab testlab: SSH host key for a generalized VM image
After=vlab-identity.service
Before=ssh.service
ConditionPathExistsGlob=!/etc/ssh/ssh_host_*_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -q -t ed25519 -N "" -f /etc/ssh/ssh_host_ed25519_key

[Install]
WantedBy=multi-user.target
`;

/** A cached VM master image: a qcow2 of a partitioned disk that SeaBIOS boots through GRUB. */
export interface VmImage {
  readonly suite: Suite;
  /** The qcow2 master (mode 0444). Back overlays with it; never write it. */
  readonly path: string;
  /** The private key root of the image authorizes (`<image>.key`, 0600; `.pub` beside it). */
  readonly managementKeyPath: string;
  readonly managementPublicKey: string;
  /** The root file system's UUID (GRUB and fstab find the root by it). */
  readonly rootUuid: string;
  /** The kernel release the image boots (`uname -r` in the guest). */
  readonly kernel: string;
  /**
   * A copy of that kernel (mode 0444), for probing whether KVM boots a Linux kernel here (see
   * `probeAccelerator`); the image boots its own through GRUB.
   */
  readonly kernelPath: string;
  readonly virtualBytes: number;
  /** Bytes the qcow2 file takes on disk. */
  readonly fileBytes: number;
  readonly builtAt: string;
  readonly buildMs: number;
  readonly cached: boolean;
  /** How long this call took. */
  readonly tookMs: number;
}

interface VmImageRecord {
  readonly suite: Suite;
  readonly recipe: number;
  readonly rootUuid: string;
  readonly kernel: string;
  readonly virtualBytes: number;
  readonly builtAt: string;
  readonly buildMs: number;
  readonly mirror: string;
  /** The paths of the given files (`[]` for the plain image; absent in records written before). */
  readonly files?: readonly string[];
}

/**
 * One entry a caller puts into a VM image's root file system (the shape of `@vlab/os-linux`'s
 * `ImageFile`, e.g. its `identityDiskImageFiles()`): a regular file (`data`, default empty;
 * `mode`, default `0o644`) or, with `symlink`, a symlink to that target. Owned by root.
 */
export interface VmImageFile {
  /** Absolute, without `..` (`/etc/systemd/system/vlab-identity.service`). */
  readonly path: string;
  readonly data?: string;
  readonly mode?: number;
  /** The symlink's target (then no `data` and no `mode`). */
  readonly symlink?: string;
}

export interface EnsureVmImageOptions {
  readonly suite?: Suite;
  /**
   * Entries written into the root file system last, replacing what is at their paths (parents
   * are made, `0755`). Another set of files is another cached image (`…-f<hash>`); none (or `[]`)
   * is the plain image.
   */
  readonly files?: readonly VmImageFile[];
  readonly log?: (line: string) => void;
}

/** A {@link VmImageFile} checked, with its defaults: what goes into the tree and the cache key. */
type CanonicalFile =
  | { readonly path: string; readonly symlink: string }
  | { readonly path: string; readonly data: string; readonly mode: number };

/** Checks `files` (throws naming the bad entry) and returns them with defaults, by path. */
function canonicalFiles(files: readonly VmImageFile[]): readonly CanonicalFile[] {
  const seen = new Set<string>();
  const out: CanonicalFile[] = [];
  for (const file of files) {
    const { path, data, mode, symlink } = file;
    const bad = (why: string) => new Error(`VM image file ${JSON.stringify(path)}: ${why}`);
    if (typeof path !== 'string' || !path.startsWith('/')) throw bad('the path must be absolute');
    if (path.split('/').includes('..')) throw bad('the path must not contain ..');
    if (path.endsWith('/') || path.includes('\0') || posix.normalize(path) !== path) {
      throw bad('the path must be normalized (no //, /./, trailing / or NUL)');
    }
    if (seen.has(path)) throw bad('given twice');
    seen.add(path);
    if (symlink !== undefined) {
      if (data !== undefined || mode !== undefined) throw bad('a symlink has no data and no mode');
      if (typeof symlink !== 'string' || symlink === '' || symlink.includes('\0')) {
        throw bad('the symlink target must be a non-empty string');
      }
      out.push({ path, symlink });
    } else {
      if (data !== undefined && typeof data !== 'string') throw bad('data must be a string');
      if (mode !== undefined && !(Number.isInteger(mode) && mode >= 0 && mode <= 0o7777)) {
        throw bad(`mode ${mode} is not a file mode (0 to 0o7777)`);
      }
      out.push({ path, data: data ?? '', mode: mode ?? 0o644 });
    }
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * The cached image's base name: `debian-<suite>-vm-r<recipe>`, and with files `-f` and the first
 * 12 hex digits of the SHA-256 of their canonical JSON (sorted by path, defaults filled in).
 */
export function vmImageName(suite: Suite, files: readonly VmImageFile[] = []): string {
  const base = `debian-${suite}-vm-r${VM_IMAGE_RECIPE}`;
  const canonical = canonicalFiles(files);
  if (canonical.length === 0) return base;
  const hash = createHash('sha256').update(JSON.stringify(canonical)).digest('hex').slice(0, 12);
  return `${base}-f${hash}`;
}

interface VmImagePaths {
  readonly image: string;
  readonly record: string;
  readonly key: string;
  readonly kernel: string;
}

function vmImagePaths(suite: Suite, files: readonly VmImageFile[]): VmImagePaths {
  const base = join(cacheDir(), vmImageName(suite, files));
  return {
    image: `${base}.qcow2`,
    record: `${base}.json`,
    key: `${base}.key`,
    kernel: `${base}.vmlinuz`,
  };
}

/**
 * The cached VM image of `suite`, built once per machine under the cache's build lock:
 * `debootstrap` of {@link VM_PACKAGES} from the machine's Debian mirror, generalized like the
 * base image (no host keys, empty machine id), plus the network and host-key units above and an
 * authorized management key; written with `mkfs.ext4 -d` into the one partition (MBR, 1 MiB
 * aligned) of a sparse raw disk, GRUB put in front of it for BIOS boot (see {@link installGrub}),
 * converted to qcow2.
 *
 * GRUB's `grub.cfg` is static and boots `/vmlinuz` and `/initrd.img`, the symlinks Debian's
 * kernel packages keep up to date: a kernel update inside a guest survives a capture, without
 * GRUB (or `update-grub`) in the guest.
 */
export async function ensureVmImage(options: EnsureVmImageOptions = {}): Promise<VmImage> {
  const started = performance.now();
  const suite = options.suite ?? 'bookworm';
  const log = options.log ?? (() => undefined);
  const files = canonicalFiles(options.files ?? []); // throws before anything is built
  const paths = vmImagePaths(suite, files);
  const done = async (cached: boolean): Promise<VmImage | undefined> => {
    let record: VmImageRecord;
    try {
      record = JSON.parse(await readFile(paths.record, 'utf8')) as VmImageRecord;
    } catch {
      return undefined;
    }
    if (![paths.image, paths.key, paths.kernel].every((path) => existsSync(path))) {
      return undefined;
    }
    return {
      suite,
      path: paths.image,
      managementKeyPath: paths.key,
      kernelPath: paths.kernel,
      managementPublicKey: (await readFile(`${paths.key}.pub`, 'utf8')).trim(),
      rootUuid: record.rootUuid,
      kernel: record.kernel,
      virtualBytes: record.virtualBytes,
      fileBytes: (await stat(paths.image)).blocks * 512,
      builtAt: record.builtAt,
      buildMs: record.buildMs,
      cached,
      tookMs: Math.round(performance.now() - started),
    };
  };
  const hit = await done(true);
  if (hit !== undefined) return hit;
  return withMachineLock(
    join(cacheDir(), 'build.lock'),
    'building a VM image',
    3_600_000,
    async () => {
      const again = await done(true); // built by another process while we waited
      if (again !== undefined) return again;
      await buildVmImage(suite, DEFAULT_VM_DISK_BYTES, files, paths, log);
      const built = await done(false);
      if (built === undefined) throw new Error(`building ${paths.image} left no usable image`);
      return built;
    },
  );
}

/** Builds the image, its key and then its record (the record last: it marks the image done). */
async function buildVmImage(
  suite: Suite,
  sizeBytes: number,
  files: readonly CanonicalFile[],
  paths: VmImagePaths,
  log: (line: string) => void,
): Promise<void> {
  if (sizeBytes % 2 ** 20 !== 0 || sizeBytes < 2 ** 30) {
    throw new Error(`a VM disk of ${sizeBytes} bytes: want whole MiB, at least 1 GiB`);
  }
  // The tree, the raw disk and the qcow2 are on disk at once.
  await requireFreeSpace(cacheDir(), 4 * 2 ** 30, `building the ${suite} VM image`);
  const buildStarted = performance.now();
  const mirror = await debianMirror();
  const work = join(cacheDir(), `build-vm-${suite}-${process.pid}`);
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  const tree = join(work, 'tree');
  const raw = join(work, 'disk.raw');
  try {
    log(`debootstrap ${suite} with a kernel from ${mirror} (a few minutes)`);
    await runChecked(
      'debootstrap',
      ['--variant=minbase', `--include=${VM_PACKAGES.join(',')}`, suite, tree, mirror],
      { timeoutMs: 1_800_000 },
    );
    const kernel = await kernelRelease(tree);
    await checkKernel(tree, kernel);
    const rootUuid = randomUUID();
    await configureTree(tree, rootUuid, kernel);
    await generalize(tree, 'debian');
    await runChecked('ssh-keygen', [
      '-q',
      '-t',
      'ed25519',
      '-N',
      '',
      '-C',
      `vlab-testlab-vm-${suite}`,
      '-f',
      join(work, 'key'),
    ]);
    const publicKey = (await readFile(join(work, 'key.pub'), 'utf8')).trim();
    await mkdir(join(tree, 'root/.ssh'), { recursive: true, mode: 0o700 });
    await writeFile(join(tree, 'root/.ssh/authorized_keys'), `${publicKey}\n`, { mode: 0o600 });
    const builtAt = new Date().toISOString();
    await mkdir(join(tree, 'etc/vlab-testlab'), { recursive: true });
    await writeFile(
      join(tree, 'etc/vlab-testlab/vm-image.json'),
      `${JSON.stringify({ suite, recipe: VM_IMAGE_RECIPE, builtAt, kernel })}\n`,
    );
    if (files.length > 0) {
      log(`writing ${files.length} given files into the tree`);
      await writeTreeFiles(tree, files);
    }

    log(`writing the raw disk (${sizeBytes} bytes, sparse): MBR, ext4 root ${rootUuid}`);
    const partStart = 2 ** 20;
    await runChecked('truncate', ['-s', String(sizeBytes), raw]);
    await runChecked('sfdisk', ['--quiet', raw], {
      input: 'label: dos\nstart=2048, type=83, bootable\n',
    });
    // Straight into the partition's place in the disk file: no copy, no mount.
    await runChecked(
      'mkfs.ext4',
      [
        '-q',
        '-F',
        '-L',
        'vlab-root',
        '-U',
        rootUuid,
        '-E',
        `offset=${partStart}`,
        '-d',
        tree,
        raw,
        `${(sizeBytes - partStart) / 1024}k`,
      ],
      { timeoutMs: 600_000 },
    );

    log('installing GRUB (i386-pc) into the disk file');
    await installGrub(raw, join(work, 'grub'), rootUuid);

    log('converting to qcow2');
    const tmpImage = join(work, 'image.qcow2');
    await runChecked('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, tmpImage], {
      timeoutMs: 600_000,
    });
    // Readable by QEMU's user (libvirt-qemu), written by nobody.
    await chmod(tmpImage, 0o444);
    await rm(paths.record, { force: true });
    await rename(tmpImage, paths.image);
    await runChecked('cp', [join(tree, 'boot', `vmlinuz-${kernel}`), `${paths.kernel}.tmp`]);
    await chmod(`${paths.kernel}.tmp`, 0o444);
    await rename(`${paths.kernel}.tmp`, paths.kernel);
    await rename(join(work, 'key'), paths.key);
    await rename(join(work, 'key.pub'), `${paths.key}.pub`);
    const record: VmImageRecord = {
      suite,
      recipe: VM_IMAGE_RECIPE,
      rootUuid,
      kernel,
      virtualBytes: sizeBytes,
      builtAt,
      buildMs: Math.round(performance.now() - buildStarted),
      mirror,
      files: files.map((file) => file.path),
    };
    await writeFile(`${paths.record}.tmp`, `${JSON.stringify(record, null, 2)}\n`);
    await rename(`${paths.record}.tmp`, paths.record);
    log(`built ${paths.image} in ${(record.buildMs / 1000).toFixed(1)} s (kernel ${kernel})`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * The shell that writes one entry, run chrooted into the tree: the tree's own symlinks (`/var/run`
 * → `/run`, absolute) then resolve inside it, never on this machine. It replaces a file or
 * symlink at the path, refuses a directory there, and makes missing parents (`0755`, root's).
 */
const WRITE_ENTRY_SCRIPT = `set -eu
umask 022
path=$1
if [ -d "$path" ] && [ ! -L "$path" ]; then
  echo "$path is a directory in the image" >&2
  exit 1
fi
dir=\${path%/*}
[ -z "$dir" ] || mkdir -p -- "$dir"
rm -f -- "$path"
if [ "$2" = symlink ]; then
  ln -s -- "$3" "$path"
  chown -h 0:0 -- "$path"
else
  cat >"$path"
  chown 0:0 -- "$path"
  chmod "$3" -- "$path"
fi
`;

/** Writes the given entries into `tree`, in path order (a later entry may use an earlier one). */
async function writeTreeFiles(tree: string, files: readonly CanonicalFile[]): Promise<void> {
  for (const file of files) {
    const args =
      'symlink' in file
        ? ['symlink', file.symlink]
        : ['file', file.mode.toString(8).padStart(4, '0')];
    const written = await run(
      'chroot',
      [tree, '/bin/sh', '-c', WRITE_ENTRY_SCRIPT, 'sh', file.path, ...args],
      { input: 'data' in file ? file.data : '', timeoutMs: 60_000 },
    );
    if (written.code !== 0) {
      throw new Error(`writing ${file.path} into the VM image failed: ${written.stderr.trim()}`);
    }
  }
}

/** The one kernel release installed in `tree` (from `/lib/modules`). */
async function kernelRelease(tree: string): Promise<string> {
  const releases = await readdir(join(tree, 'lib/modules'));
  if (releases.length !== 1 || releases[0] === undefined) {
    throw new Error(`expected one kernel in the VM tree, found: ${releases.join(', ') || 'none'}`);
  }
  return releases[0];
}

/**
 * Refuses a kernel the VM could not boot or configure: virtio disk and PCI drivers in the
 * initramfs (or built in), and fw_cfg in sysfs (the network script reads its address there).
 */
async function checkKernel(tree: string, kernel: string): Promise<void> {
  const config = await readFile(join(tree, 'boot', `config-${kernel}`), 'utf8');
  const setting = (name: string): string =>
    new RegExp(`^${name}=(.)`, 'm').exec(config)?.[1] ?? 'n';
  if (setting('CONFIG_FW_CFG_SYSFS') === 'n') {
    throw new Error(`kernel ${kernel} has no CONFIG_FW_CFG_SYSFS: a VM could not read its address`);
  }
  const listed = await runChecked('chroot', [tree, 'lsinitramfs', `/boot/initrd.img-${kernel}`], {
    timeoutMs: 120_000,
  });
  for (const [option, module] of [
    ['CONFIG_VIRTIO_BLK', 'virtio_blk'],
    ['CONFIG_VIRTIO_PCI', 'virtio_pci'],
  ] as const) {
    if (setting(option) === 'y') continue;
    if (!new RegExp(`/${module}\\.ko`).test(listed.stdout)) {
      throw new Error(`the initramfs of ${kernel} lacks ${module}: the VM could not find its disk`);
    }
  }
}

/** What makes the tree a bootable, addressable VM (before {@link generalize}). */
async function configureTree(tree: string, rootUuid: string, kernel: string): Promise<void> {
  await writeFile(
    join(tree, 'etc/fstab'),
    `# <file system> <mount point> <type> <options> <dump> <pass>\nUUID=${rootUuid} / ext4 errors=remount-ro 0 1\n`,
  );
  // Debian's kernel packages keep /vmlinuz and /initrd.img pointing at the newest kernel.
  for (const [link, target] of [
    ['vmlinuz', `boot/vmlinuz-${kernel}`],
    ['initrd.img', `boot/initrd.img-${kernel}`],
  ] as const) {
    const current = await readlink(join(tree, link)).catch(() => undefined);
    if (current === undefined) await symlink(target, join(tree, link));
  }
  await mkdir(join(tree, 'boot/grub'), { recursive: true });
  // GRUB's modules, which the core image loads from the root file system (no GRUB package in
  // the guest: nothing there rewrites the boot loader).
  await cp(GRUB_PC_DIR, join(tree, 'boot/grub/i386-pc'), { recursive: true });
  await writeFile(
    join(tree, 'boot/grub/grub.cfg'),
    [
      '# Written by @vlab/testlab (VM image). Static: it boots the kernel /vmlinuz points at.',
      'serial --unit=0 --speed=115200',
      'terminal_input serial console',
      'terminal_output serial console',
      'set timeout=0',
      'set default=0',
      `search --no-floppy --fs-uuid --set=root ${rootUuid}`,
      "menuentry 'Debian' {",
      `  linux /vmlinuz root=UUID=${rootUuid} ro console=tty0 console=ttyS0,115200n8`,
      '  initrd /initrd.img',
      '}',
      '',
    ].join('\n'),
  );
  await mkdir(join(tree, 'usr/local/lib/vlab'), { recursive: true });
  await writeFile(join(tree, NET_SCRIPT.slice(1)), NET_SCRIPT_TEXT, { mode: 0o755 });
  const units = join(tree, 'etc/systemd/system');
  const wants = join(units, 'multi-user.target.wants');
  await mkdir(wants, { recursive: true });
  for (const [name, text] of [
    [NET_UNIT, NET_UNIT_TEXT],
    [HOST_KEYS_UNIT, HOST_KEYS_UNIT_TEXT],
  ] as const) {
    await writeFile(join(units, name), text);
    await symlink(`/etc/systemd/system/${name}`, join(wants, name));
  }
  // e2scrub_reap looks for LVM snapshots a VM never has: 16 s of the one vCPU under TCG.
  await symlink('/dev/null', join(units, 'e2scrub_reap.service'));
  // No DNS here (an isolated network): sshd must not wait for reverse look-ups.
  await writeFile(join(tree, 'etc/ssh/sshd_config.d/vlab-testlab.conf'), 'UseDNS no\n');
}

/** GRUB's i386-pc files on this machine (Debian's `grub-pc-bin`). */
const GRUB_PC_DIR = '/usr/lib/grub/i386-pc';

/** The first sector of GRUB's core image goes right after the MBR; the first partition at 1 MiB. */
const MBR_GAP_BYTES = 2 ** 20 - 512;

/**
 * Makes the raw disk boot GRUB from SeaBIOS without a block device: this machine's kernel
 * partitions no loop device (`losetup --partscan` and `partx -a` make no `loopNp1`), so
 * `grub-install` (which probes the mounted partition) cannot run; its two steps are done on the
 * file instead. `grub-mkimage` builds the core image with an early config that finds the root
 * file system by UUID; `boot.img`'s first 440 bytes (the code; the partition table after it is
 * kept) go into the MBR and the core image into the gap after it — `boot.img` loads sector 1
 * (its `kernel_sector` is 1) and the core's first sector loads the rest (its block list, which
 * `grub-mkimage` fills in, starts at sector 2): what `grub-bios-setup` would write for a core
 * image at sector 1. The modules were copied into the tree's `/boot/grub/i386-pc` before mkfs.
 */
async function installGrub(raw: string, dir: string, rootUuid: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const early = join(dir, 'early.cfg');
  const core = join(dir, 'core.img');
  await writeFile(early, `search.fs_uuid ${rootUuid} root\nset prefix=($root)/boot/grub\n`);
  await runChecked('grub-mkimage', [
    '-O',
    'i386-pc',
    '-d',
    GRUB_PC_DIR,
    '-o',
    core,
    '-c',
    early,
    '-p',
    '/boot/grub',
    'biosdisk',
    'part_msdos',
    'ext2',
    'search_fs_uuid',
  ]);
  const coreImage = await readFile(core);
  if (coreImage.length > MBR_GAP_BYTES) {
    throw new Error(`GRUB's core image (${coreImage.length} bytes) does not fit before 1 MiB`);
  }
  const bootImage = await readFile(join(GRUB_PC_DIR, 'boot.img'));
  const disk = await open(raw, 'r+');
  try {
    await disk.write(bootImage, 0, 440, 0);
    await disk.write(coreImage, 0, coreImage.length, 512);
  } finally {
    await disk.close();
  }
}
