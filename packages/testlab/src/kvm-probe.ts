import { existsSync } from 'node:fs';
import { chmod, copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './exec.js';
import { type DomainType, xmlEscape } from './vm-domain.js';

/** What {@link probeAccelerator} found. */
export interface AcceleratorProbe {
  /** `kvm` when a Linux kernel really booted under KVM here, else `qemu` (TCG). */
  readonly type: DomainType;
  /** Why (the KVM attempt's outcome), for the test log. */
  readonly reason: string;
  readonly tookMs: number;
}

/**
 * A 64 KiB BIOS that proves the CPU ran guest code: at the reset vector a far jump to F000:0000,
 * which writes `OK\n` to COM1 and halts. (It does not end QEMU: a guest that exits while libvirt
 * still starts the domain fails the start with "qemu unexpectedly closed the monitor".)
 */
function probeBios(): Buffer {
  const bios = Buffer.alloc(0x10000, 0xf4); // hlt everywhere else
  const code = [
    'baf803', // mov dx, 0x3f8
    'b04fee', // mov al, 'O'; out dx, al
    'b04bee', // mov al, 'K'; out dx, al
    'b00aee', // mov al, 10 (newline); out dx, al
    'faf4ebfd', // cli; hlt; jmp back to the hlt
  ];
  Buffer.from(code.join(''), 'hex').copy(bios, 0);
  Buffer.from([0xea, 0x00, 0x00, 0x00, 0xf0]).copy(bios, 0xfff0); // jmp far F000:0000
  return bios;
}

/** The probe's domain: the BIOS above, or a Linux kernel booted directly with no root to mount. */
function probeXml(name: string, type: DomainType, boot: ProbeBoot, log: string): string {
  const os =
    boot.kind === 'bios'
      ? `<loader type='rom' readonly='yes'>${xmlEscape(boot.path)}</loader>`
      : `<kernel>${xmlEscape(boot.path)}</kernel><cmdline>console=ttyS0 panic=-1</cmdline>`;
  return [
    `<domain type='${type}'>`,
    `  <name>${name}</name>`,
    "  <memory unit='MiB'>256</memory>",
    '  <vcpu>1</vcpu>',
    `  <os><type arch='x86_64' machine='pc'>hvm</type>${os}</os>`,
    '  <on_poweroff>destroy</on_poweroff>',
    '  <on_reboot>destroy</on_reboot>',
    '  <on_crash>destroy</on_crash>',
    '  <devices>',
    `    <serial type='file'><source path='${xmlEscape(log)}'/><target port='0'/></serial>`,
    "    <video><model type='none'/></video>",
    "    <memballoon model='none'/>",
    '  </devices>',
    '</domain>',
    '',
  ].join('\n');
}

type ProbeBoot = { readonly kind: 'bios' | 'kernel'; readonly path: string };

/**
 * Runs a probe as a transient libvirt domain of `type`; resolves with whether its console showed
 * `marker` within `timeoutMs`, and what happened otherwise. The domain is destroyed either way.
 */
async function runProbe(
  dir: string,
  type: DomainType,
  boot: ProbeBoot,
  marker: string,
  timeoutMs: number,
): Promise<{ ok: boolean; detail: string }> {
  const name = `vlab-probe-${type}-${boot.kind}-${process.pid}`;
  const log = join(dir, `${name}.log`);
  const xml = join(dir, `${name}.xml`);
  await writeFile(xml, probeXml(name, type, boot, log));
  const virsh = (args: readonly string[]) =>
    run('virsh', ['-c', 'qemu:///system', ...args], { timeoutMs: 30_000 });
  const created = await virsh(['create', xml]);
  if (created.code !== 0) return { ok: false, detail: created.stderr.trim() };
  // The console file fills as the guest writes; the domain ends itself (panic=-1 reboots, and
  // on_reboot destroys it) or is destroyed below.
  const deadline = Date.now() + timeoutMs;
  let printed = '';
  for (;;) {
    printed = await readFile(log, 'utf8').catch(() => '');
    if (printed.includes(marker) || Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const state = (await virsh(['domstate', name])).stdout.trim();
  await virsh(['destroy', name]);
  if (printed.includes(marker)) return { ok: true, detail: `showed ${JSON.stringify(marker)}` };
  return {
    ok: false,
    detail:
      `no ${JSON.stringify(marker)} on the console within ${timeoutMs} ms ` +
      `(domain ${state || 'gone'}; console: ${JSON.stringify(printed.slice(-300))})`,
  };
}

/** What a kernel prints once it is fully up and finds no root file system (no disk attached). */
const KERNEL_UP = 'Kernel panic - not syncing: VFS: Unable to mount root fs';

/**
 * Whether KVM really works through libvirt here. `/dev/kvm` can exist while a `type='kvm'`
 * domain fails to start ("Could not access KVM kernel module: Permission denied" while the device
 * is root's alone, see `grantKvmToQemu`; on this machine `-cpu host` "failed to set MSR 0x10a"),
 * or runs real-mode code (the BIOS probe prints `OK`) but a Linux kernel never prints a line. So
 * KVM counts only when `kernel` (the VM image's, booted directly without a disk) comes up to its
 * "cannot mount root" panic within 10 s (about a second with KVM; 5.5 s under TCG here). A BIOS
 * probe under TCG first checks libvirt and QEMU themselves (that must work: else this throws).
 * `dir` must be readable by QEMU's user. `VLAB_TESTLAB_VM_ACCEL=qemu` skips the KVM probe.
 */
export async function probeAccelerator(dir: string, kernel: string): Promise<AcceleratorProbe> {
  const started = performance.now();
  const took = () => Math.round(performance.now() - started);
  const bios = join(dir, 'probe-bios.bin');
  await writeFile(bios, probeBios(), { mode: 0o644 });
  const tcg = await runProbe(dir, 'qemu', { kind: 'bios', path: bios }, 'OK', 30_000);
  if (!tcg.ok) throw new Error(`a TCG probe domain did not run under libvirt: ${tcg.detail}`);
  if (!existsSync('/dev/kvm')) return { type: 'qemu', reason: 'no /dev/kvm', tookMs: took() };
  if (process.env['VLAB_TESTLAB_VM_ACCEL'] === 'qemu') {
    return { type: 'qemu', reason: 'VLAB_TESTLAB_VM_ACCEL=qemu', tookMs: took() };
  }
  // A copy: libvirt changes the owner of a kernel while a domain runs from it.
  const copy = join(dir, 'probe-vmlinuz');
  await copyFile(kernel, copy);
  await chmod(copy, 0o644);
  const kvm = await runProbe(dir, 'kvm', { kind: 'kernel', path: copy }, KERNEL_UP, 10_000);
  return kvm.ok
    ? { type: 'kvm', reason: `a Linux kernel booted under KVM (${kvm.detail})`, tookMs: took() }
    : { type: 'qemu', reason: `KVM does not boot Linux here: ${kvm.detail}`, tookMs: took() };
}
