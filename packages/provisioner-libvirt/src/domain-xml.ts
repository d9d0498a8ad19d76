import type { LibvirtConfig } from './config.js';
import type { VmFacts } from './vm-facts.js';

/** The fw_cfg entry an image may read its address from: `MAC ADDRESS/PREFIX`. @public */
export const FW_CFG_NET = 'opt/org.vlab/net';

/**
 * The namespace of the mark in a domain's `<metadata>` that says vlab defined it, and for which
 * computer: `<vlab:vm computer='NAME'/>`. A domain without it is never destroyed or undefined.
 */
export const DOMAIN_MARK_URI = 'urn:vlab:provisioner-libvirt';

/** Where a VM's files are on its host. */
export interface VmPaths {
  /** The VM's directory: `<dir>/vms/<domain>`. */
  readonly dir: string;
  /** Its copy-on-write overlay. */
  readonly disk: string;
  /** Its identity disk (only while it is being loaded). */
  readonly identity: string;
  /** Its serial console's log. */
  readonly console: string;
  /** Its domain definition as last defined. */
  readonly xml: string;
}

/** The paths of the VM of `facts` on its host. */
export function vmPaths(facts: VmFacts): VmPaths {
  const dir = `${facts.host.dir}/vms/${facts.domain}`;
  return {
    dir,
    disk: `${dir}/disk.qcow2`,
    identity: `${dir}/identity.img`,
    console: `${dir}/console.log`,
    xml: `${dir}/domain.xml`,
  };
}

/** XML text and attribute escaping. */
function xmlEscape(value: string): string {
  return value
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll("'", '&apos;')
    .replaceAll('"', '&quot;');
}

/**
 * The domain of a VM: BIOS boot from its overlay (`vda`), the identity disk (`vdb`, read-only)
 * when it has one, a virtio NIC with its MAC on the host's network, the serial console logged to
 * a file, no graphics (no `<graphics>` element: `type='none'` is invalid), no balloon; under TCG
 * a bounded code cache; the address in fw_cfg when `vm.fwCfgAddress` says so; vlab's mark
 * ({@link DOMAIN_MARK_URI}) naming the computer.
 */
export function domainXml(
  facts: VmFacts,
  config: LibvirtConfig,
  options: { readonly identityDisk: boolean },
): string {
  const e = xmlEscape;
  const paths = vmPaths(facts);
  const tcg =
    facts.host.domainType === 'qemu'
      ? `<tcg><tb-cache unit='MiB'>${config.vm.tbCacheMiB}</tb-cache></tcg>`
      : '';
  const fwCfg = config.vm.fwCfgAddress
    ? [
        "  <sysinfo type='fwcfg'>",
        `    <entry name='${FW_CFG_NET}'>${e(`${facts.mac} ${facts.address}/${facts.prefixLength}\n`)}</entry>`,
        '  </sysinfo>',
      ]
    : [];
  const identity = options.identityDisk
    ? [
        "    <disk type='file' device='disk'>",
        "      <driver name='qemu' type='raw'/>",
        `      <source file='${e(paths.identity)}'/>`,
        "      <target dev='vdb' bus='virtio'/>",
        '      <readonly/>',
        '    </disk>',
      ]
    : [];
  return [
    `<domain type='${facts.host.domainType}'>`,
    `  <name>${e(facts.domain)}</name>`,
    `  <memory unit='MiB'>${facts.memoryMiB}</memory>`,
    `  <vcpu>${facts.vcpus}</vcpu>`,
    `  <metadata><vlab:vm xmlns:vlab='${DOMAIN_MARK_URI}' computer='${e(facts.name)}'/></metadata>`,
    ...fwCfg,
    "  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>",
    `  <features><acpi/><apic/>${tcg}</features>`,
    "  <clock offset='utc'/>",
    '  <on_poweroff>destroy</on_poweroff>',
    '  <on_reboot>restart</on_reboot>',
    '  <on_crash>destroy</on_crash>',
    '  <devices>',
    "    <disk type='file' device='disk'>",
    "      <driver name='qemu' type='qcow2'/>",
    `      <source file='${e(paths.disk)}'/>`,
    "      <target dev='vda' bus='virtio'/>",
    '    </disk>',
    ...identity,
    "    <interface type='network'>",
    `      <source network='${e(facts.host.network)}'/>`,
    `      <mac address='${e(facts.mac)}'/>`,
    "      <model type='virtio'/>",
    '    </interface>',
    "    <serial type='file'>",
    `      <source path='${e(paths.console)}'/>`,
    "      <target port='0'/>",
    '    </serial>',
    "    <video><model type='none'/></video>",
    "    <memballoon model='none'/>",
    '  </devices>',
    '</domain>',
    '',
  ].join('\n');
}
