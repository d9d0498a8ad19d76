import { VM_NET_FW_CFG, vmNetConfig } from './vm-image.js';

/** libvirt's domain types: `kvm` (hardware virtualization) or `qemu` (TCG, emulation). */
export type DomainType = 'kvm' | 'qemu';

/** What a test VM is made of (see {@link vmDomainXml}). */
export interface VmDomainSpec {
  readonly name: string;
  readonly type: DomainType;
  readonly memoryMiB: number;
  readonly vcpus: number;
  /** The VM's disk: a qcow2 (an overlay of a master), `vda`. */
  readonly disk: string;
  /** A raw identity disk (`vdb`, read-only), when there is one. */
  readonly identityDisk?: string;
  /** The libvirt network of its NIC. */
  readonly network: string;
  readonly mac: string;
  /** Its address with prefix length, handed to the guest through fw_cfg. */
  readonly address: string;
  /** The serial console (`ttyS0`) goes to this file. */
  readonly consoleLog: string;
  /** TCG's translation-block cache (default 128 MiB; QEMU's own default takes ~490 MB of RSS). */
  readonly tbCacheMiB?: number;
}

/** XML text and attribute escaping. */
export function xmlEscape(value: string): string {
  return value
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll("'", '&apos;')
    .replaceAll('"', '&quot;');
}

/**
 * The domain definition of a test VM: BIOS (SeaBIOS) boot from `vda`, a virtio NIC on the
 * network with the given MAC, the address in fw_cfg (`opt/org.vlab/net`, which the VM image
 * applies at boot), the serial console to a file, no graphics (no `<graphics>` element at all:
 * `type='none'` is invalid), no balloon. Under TCG the code cache is bounded.
 */
export function vmDomainXml(spec: VmDomainSpec): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(spec.name)) {
    throw new Error(`bad domain name ${spec.name}`);
  }
  const e = xmlEscape;
  const tcg =
    spec.type === 'qemu'
      ? `<tcg><tb-cache unit='MiB'>${spec.tbCacheMiB ?? 128}</tb-cache></tcg>`
      : '';
  const identity =
    spec.identityDisk === undefined
      ? []
      : [
          "    <disk type='file' device='disk'>",
          "      <driver name='qemu' type='raw'/>",
          `      <source file='${e(spec.identityDisk)}'/>`,
          "      <target dev='vdb' bus='virtio'/>",
          '      <readonly/>',
          '    </disk>',
        ];
  return [
    `<domain type='${spec.type}'>`,
    `  <name>${e(spec.name)}</name>`,
    `  <memory unit='MiB'>${spec.memoryMiB}</memory>`,
    `  <vcpu>${spec.vcpus}</vcpu>`,
    "  <sysinfo type='fwcfg'>",
    `    <entry name='${VM_NET_FW_CFG}'>${e(vmNetConfig([{ mac: spec.mac, address: spec.address }]))}</entry>`,
    '  </sysinfo>',
    "  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>",
    `  <features><acpi/><apic/>${tcg}</features>`,
    "  <clock offset='utc'/>",
    '  <on_poweroff>destroy</on_poweroff>',
    '  <on_reboot>restart</on_reboot>',
    '  <on_crash>destroy</on_crash>',
    '  <devices>',
    "    <disk type='file' device='disk'>",
    "      <driver name='qemu' type='qcow2'/>",
    `      <source file='${e(spec.disk)}'/>`,
    "      <target dev='vda' bus='virtio'/>",
    '    </disk>',
    ...identity,
    "    <interface type='network'>",
    `      <source network='${e(spec.network)}'/>`,
    `      <mac address='${e(spec.mac)}'/>`,
    "      <model type='virtio'/>",
    '    </interface>',
    "    <serial type='file'>",
    `      <source path='${e(spec.consoleLog)}'/>`,
    "      <target port='0'/>",
    '    </serial>',
    "    <video><model type='none'/></video>",
    "    <memballoon model='none'/>",
    '  </devices>',
    '</domain>',
    '',
  ]
    .filter((line) => line !== '')
    .join('\n');
}
