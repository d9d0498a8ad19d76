import { existsSync } from 'node:fs';
import { mkdir, readFile, statfs } from 'node:fs/promises';
import { SETUP_SCRIPT } from './paths.js';

/** A program the lab runs and the Debian package that provides it. */
const REQUIRED_COMMANDS: readonly (readonly [command: string, pkg: string])[] = [
  ['systemd-nspawn', 'systemd-container'],
  ['debootstrap', 'debootstrap'],
  ['ipmi_sim', 'openipmi'],
  ['ipmitool', 'ipmitool'],
  ['ssh', 'openssh-client'],
  ['ssh-keygen', 'openssh-client'],
  ['ip', 'iproute2'],
  ['zstd', 'zstd'],
  ['flock', 'util-linux'],
  ['losetup', 'mount'],
  ['mkfs.ext4', 'e2fsprogs'],
  ['chroot', 'coreutils'],
];

const PATH_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

function which(command: string): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(':').filter(Boolean), ...PATH_DIRS];
  return dirs.map((dir) => `${dir}/${command}`).find((path) => existsSync(path));
}

/**
 * Checks what the lab needs from the machine and throws one error naming everything missing:
 * root, the programs (with their Debian packages and the set-up command), and the kernel
 * features (network namespaces, loop devices, overlayfs, cgroups).
 */
export async function preflight(): Promise<void> {
  const problems: string[] = [];
  if (process.getuid?.() !== 0) {
    problems.push(
      'the lab must run as root (it creates network namespaces, loop mounts and cgroups)',
    );
  }
  const missing = REQUIRED_COMMANDS.filter(([command]) => which(command) === undefined);
  if (missing.length > 0) {
    const packages = [...new Set(missing.map(([, pkg]) => pkg))];
    problems.push(
      `missing programs: ${missing.map(([command, pkg]) => `${command} (Debian package ${pkg})`).join(', ')}; ` +
        `install them with: bash ${SETUP_SCRIPT}  (or apt-get install ${packages.join(' ')})`,
    );
  }
  if (!existsSync('/proc/self/ns/net')) {
    problems.push('the kernel has no network namespaces (CONFIG_NET_NS)');
  }
  if (!existsSync('/dev/loop-control')) {
    problems.push(
      'no loop devices (/dev/loop-control missing: modprobe loop, CONFIG_BLK_DEV_LOOP)',
    );
  }
  const filesystems = await readFile('/proc/filesystems', 'utf8').catch(() => '');
  if (!/\boverlay\b/.test(filesystems)) {
    problems.push(
      'the kernel has no overlayfs (the deploy environment needs it: modprobe overlay)',
    );
  }
  if (!/\bext4\b/.test(filesystems)) {
    problems.push('the kernel has no ext4 (the computers’ disks are ext4)');
  }
  if (!existsSync('/sys/fs/cgroup/pids') && !existsSync('/sys/fs/cgroup/cgroup.procs')) {
    problems.push('no cgroup hierarchy under /sys/fs/cgroup');
  }
  if (problems.length > 0) {
    throw new Error(`@vlab/testlab cannot run on this machine:\n- ${problems.join('\n- ')}`);
  }
}

/** Bytes a non-root user could still write under `path` (root may use a little more). */
export async function freeBytes(path: string): Promise<number> {
  await mkdir(path, { recursive: true });
  const stats = await statfs(path);
  return stats.bavail * stats.bsize;
}

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
}

/** Throws a clear error when `path`'s file system has less than `needed` bytes free. */
export async function requireFreeSpace(path: string, needed: number, what: string): Promise<void> {
  const free = await freeBytes(path);
  if (free < needed) {
    throw new Error(
      `not enough free disk space for ${what}: ${path} has ${gib(free)} free, ${gib(needed)} needed. ` +
        'Free some space (or point VLAB_TESTLAB_CACHE / VLAB_TESTLAB_STATE at a bigger file system) and retry.',
    );
  }
}

/** What the VM image and the libvirt harness run, and the Debian packages that provide it. */
const VM_REQUIRED_COMMANDS: readonly (readonly [command: string, pkg: string])[] = [
  ['debootstrap', 'debootstrap'],
  ['mkfs.ext4', 'e2fsprogs'],
  ['sfdisk', 'fdisk'],
  ['grub-mkimage', 'grub-common'],
  ['qemu-img', 'qemu-utils'],
  ['qemu-system-x86_64', 'qemu-system-x86'],
  ['libvirtd', 'libvirt-daemon-system'],
  ['virtlogd', 'libvirt-daemon-system'],
  ['virsh', 'libvirt-clients'],
  ['perl', 'perl-base'],
  ['ssh', 'openssh-client'],
  ['ssh-keygen', 'openssh-client'],
  ['ip', 'iproute2'],
];

/**
 * Checks what the VM image build and the libvirt harness need (root, programs, GRUB's BIOS
 * files, libvirt's QEMU driver) and throws one error naming everything missing.
 */
export async function vmPreflight(): Promise<void> {
  const problems: string[] = [];
  if (process.getuid?.() !== 0) problems.push('VMs need root (libvirt system instance, bridges)');
  const missing = VM_REQUIRED_COMMANDS.filter(([command]) => which(command) === undefined);
  if (missing.length > 0) {
    problems.push(
      `missing programs: ${missing.map(([command, pkg]) => `${command} (Debian package ${pkg})`).join(', ')}`,
    );
  }
  if (!existsSync('/usr/lib/grub/i386-pc/boot.img')) {
    problems.push('no GRUB BIOS files in /usr/lib/grub/i386-pc (Debian package grub-pc-bin)');
  }
  if (!existsSync('/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so')) {
    problems.push("libvirt's QEMU driver is missing (Debian package libvirt-daemon-driver-qemu)");
  }
  if (problems.length > 0) {
    throw new Error(
      `@vlab/testlab cannot run VMs on this machine:\n- ${problems.join('\n- ')}\n` +
        'install the packages with scripts/lib/machine-setup.sh (install_system_packages)',
    );
  }
}
