import { describe, expect, it } from 'vitest';
import { vmDomainXml, xmlEscape } from '../src/vm-domain.js';
import { VM_NET_FW_CFG, vmNetConfig } from '../src/vm-image.js';
import { vmAddress } from '../src/vm-net.js';

// The domain template and the address entry, without libvirt (the VM smoke test runs them).

const spec = {
  name: 'vm1',
  type: 'qemu',
  memoryMiB: 1024,
  vcpus: 1,
  disk: "/tmp/a'b&c.qcow2",
  network: 'vlab-vm-abcdef',
  mac: '52:54:00:c6:12:0b',
  address: '198.18.100.11/24',
  consoleLog: '/tmp/vm1.log',
} as const;

describe('the VM domain template', () => {
  it('gives the address through fw_cfg, escapes paths and bounds the TCG code cache', () => {
    const xml = vmDomainXml(spec);
    expect(xml).toContain(
      `<entry name='${VM_NET_FW_CFG}'>52:54:00:c6:12:0b 198.18.100.11/24\n</entry>`,
    );
    expect(xml).toContain("<source file='/tmp/a&apos;b&amp;c.qcow2'/>");
    expect(xml).toContain("<tcg><tb-cache unit='MiB'>128</tb-cache></tcg>");
    expect(xml).not.toContain('<graphics');
    expect(xml).not.toContain('<forward');
    expect(xml).not.toContain('vdb');
    expect(vmDomainXml({ ...spec, type: 'kvm' })).not.toContain('<tcg>');
    expect(vmDomainXml({ ...spec, identityDisk: '/tmp/id.img' })).toContain(
      "<target dev='vdb' bus='virtio'/>\n      <readonly/>",
    );
  });

  it('refuses names, MACs and addresses that would not reach the VM intact', () => {
    expect(() => vmDomainXml({ ...spec, name: 'a b' })).toThrow(/bad domain name/);
    expect(() => vmDomainXml({ ...spec, mac: '52:54:00:C6:12:0B' })).toThrow(/bad MAC/);
    expect(() => vmNetConfig([{ mac: spec.mac, address: '198.18.100.11' }])).toThrow(/bad address/);
    expect(xmlEscape(`<"&'>`)).toBe('&lt;&quot;&amp;&apos;&gt;');
  });

  it('numbers VMs like lab computers: .11 for the first', () => {
    expect(vmAddress(1)).toBe('198.18.100.11');
    expect(() => vmAddress(0)).toThrow(/out of range/);
  });
});
