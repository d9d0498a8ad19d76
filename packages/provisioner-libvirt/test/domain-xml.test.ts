import { execFileSync, spawnSync } from 'node:child_process';
import type { ComputerRef } from '@vlab/core';
import { describe, expect, it } from 'vitest';
import { type LibvirtConfig, type LibvirtHostConfigInput, libvirtConfig } from '../src/config.js';
import { DOMAIN_MARK_URI, domainXml, FW_CFG_NET, vmPaths } from '../src/domain-xml.js';
import { vmFacts } from '../src/vm-facts.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPbGx2Yf2VZ9WkC8a2VZ9WkC8a2VZ9WkC8a2VZ9WkC8a';
const HOSTILE = `a'<b>&"c`;

function setup(
  host: Partial<LibvirtHostConfigInput> = {},
  vm: Partial<LibvirtConfig['vm']> = {},
  attributes: Record<string, string> = {},
) {
  const config = libvirtConfig({
    store: { path: '/s' },
    hosts: {
      kvm1: { address: 'h', hostKey: KEY, key: { env: 'K' }, network: 'vlab', ...host },
    },
    vm,
  });
  const computer: ComputerRef = {
    name: 'vm7',
    hostname: 'vm7',
    addresses: { management: '192.168.122.7' },
    credentials: {},
    attributes: { mac: '52:54:00:12:34:56', ...attributes },
  };
  const facts = vmFacts(computer, config);
  return { config, facts };
}

/** An element of the parsed document. */
interface XmlElement {
  readonly name: string;
  readonly attributes: Record<string, string>;
  readonly children: XmlElement[];
  text: string;
}

const ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  apos: "'",
  quot: '"',
};

/** Character data with its five predefined entities decoded; anything else is not well-formed. */
function decode(data: string, where: string): string {
  if (data.includes('<')) throw new Error(`a raw "<" in ${where}`);
  return data.replace(/&([^;]*);|&/g, (whole, name: string | undefined) => {
    const value = name === undefined ? undefined : ENTITIES[name];
    if (value === undefined) throw new Error(`an undefined entity ${whole} in ${where}`);
    return value;
  });
}

/**
 * A strict parser of the XML subset a domain definition uses (elements, quoted attributes,
 * prefixed names taken as written, character data with the predefined entities; no comments,
 * CDATA, DTD or processing instructions): throws on anything that is not well-formed.
 */
function parseXml(text: string): XmlElement {
  // A qualified name: one optional namespace prefix (vlab's mark has one).
  const NAME = '[A-Za-z_][A-Za-z0-9_.-]*(?::[A-Za-z_][A-Za-z0-9_.-]*)?';
  const tag = new RegExp(`^<(/?)(${NAME})((?:\\s+${NAME}\\s*=\\s*(?:'[^']*'|"[^"]*"))*)\\s*(/?)>`);
  const attribute = new RegExp(`(${NAME})\\s*=\\s*(?:'([^']*)'|"([^"]*)")`, 'g');
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let at = 0;
  while (at < text.length) {
    const lt = text.indexOf('<', at);
    const data = text.slice(at, lt === -1 ? text.length : lt);
    const open = stack.at(-1);
    if (open === undefined) {
      if (data.trim() !== '') throw new Error(`text outside the root element: ${data}`);
    } else open.text += decode(data, `<${open.name}>`);
    if (lt === -1) break;
    const match = tag.exec(text.slice(lt));
    if (match === null) throw new Error(`a malformed tag at ${lt}: ${text.slice(lt, lt + 40)}`);
    const [whole, closing, name = '', attrs = '', selfClosing] = match;
    at = lt + whole.length;
    if (closing === '/') {
      if (attrs !== '' || selfClosing === '/') throw new Error(`a malformed end tag </${name}>`);
      const top = stack.pop();
      if (top?.name !== name) throw new Error(`</${name}> closes <${top?.name}>`);
      continue;
    }
    const element: XmlElement = { name, attributes: {}, children: [], text: '' };
    for (const [, key = '', single, double] of attrs.matchAll(attribute)) {
      if (Object.hasOwn(element.attributes, key)) throw new Error(`<${name}> repeats ${key}`);
      element.attributes[key] = decode(single ?? double ?? '', `<${name} ${key}>`);
    }
    if (open !== undefined) open.children.push(element);
    else if (root === undefined) root = element;
    else throw new Error('a second root element');
    if (selfClosing !== '/') stack.push(element);
  }
  if (stack.length > 0) throw new Error(`<${stack.at(-1)?.name}> is not closed`);
  if (root === undefined) throw new Error('no root element');
  return root;
}

/** Every element at `path` (`devices/disk`) below `element`. */
function all(element: XmlElement, path: string): XmlElement[] {
  return path
    .split('/')
    .reduce<XmlElement[]>(
      (found, name) => found.flatMap((e) => e.children.filter((c) => c.name === name)),
      [element],
    );
}

/** The one element at `path`; fails when there is none or several. */
function one(element: XmlElement, path: string): XmlElement {
  const found = all(element, path);
  expect(found, path).toHaveLength(1);
  return found[0] as XmlElement;
}

const xmllint = spawnSync('sh', ['-c', 'command -v xmllint'], { encoding: 'utf8' }).stdout.trim();

describe('the domain XML', () => {
  it('the strict parser refuses what is not well-formed', () => {
    for (const bad of [
      '<a><b></a></b>',
      '<a>x < y</a>',
      '<a>x & y</a>',
      "<a b='1' b='2'/>",
      '<a>&nbsp;</a>',
      "<a b='<'/>",
      '<a/><b/>',
      '<a>',
      '<a b=1/>',
    ])
      expect(() => parseXml(bad), bad).toThrow();
    expect(parseXml(`<a b="&apos;&quot;">&lt;&amp;&gt;<c/></a>`)).toEqual({
      name: 'a',
      attributes: { b: `'"` },
      children: [{ name: 'c', attributes: {}, children: [], text: '' }],
      text: '<&>',
    });
  });

  it('defines a KVM domain booting its overlay as vda, with its NIC, console and size', () => {
    const { config, facts } = setup({}, {}, { vcpus: '2', memoryMiB: '2048' });
    const domain = parseXml(domainXml(facts, config, { identityDisk: false }));
    const paths = vmPaths(facts);
    expect(paths.dir).toBe('/var/lib/vlab/libvirt/vms/vm7');
    expect(domain.name).toBe('domain');
    expect(domain.attributes).toEqual({ type: 'kvm' });
    expect(one(domain, 'name').text).toBe('vm7');
    expect(one(domain, 'memory')).toMatchObject({ attributes: { unit: 'MiB' }, text: '2048' });
    expect(one(domain, 'vcpu').text).toBe('2');
    const disks = all(domain, 'devices/disk');
    expect(disks).toHaveLength(1);
    expect(one(disks[0] as XmlElement, 'source').attributes).toEqual({ file: paths.disk });
    expect(one(disks[0] as XmlElement, 'target').attributes).toEqual({ dev: 'vda', bus: 'virtio' });
    expect(one(disks[0] as XmlElement, 'driver').attributes).toEqual({
      name: 'qemu',
      type: 'qcow2',
    });
    expect(all(disks[0] as XmlElement, 'readonly')).toEqual([]);
    expect(one(domain, 'devices/interface/source').attributes).toEqual({ network: 'vlab' });
    expect(one(domain, 'devices/interface/mac').attributes).toEqual({
      address: '52:54:00:12:34:56',
    });
    expect(one(domain, 'devices/serial/source').attributes).toEqual({ path: paths.console });
    expect(all(domain, 'devices/graphics')).toEqual([]);
    // KVM: no TCG code cache; no fw_cfg entry unless vm.fwCfgAddress.
    expect(all(domain, 'features/tcg')).toEqual([]);
    expect(all(domain, 'sysinfo')).toEqual([]);
  });

  it("carries vlab's mark naming the computer in its metadata", () => {
    const { config, facts } = setup();
    const domain = parseXml(domainXml(facts, config, { identityDisk: false }));
    expect(one(domain, 'metadata/vlab:vm').attributes).toEqual({
      'xmlns:vlab': DOMAIN_MARK_URI,
      computer: 'vm7',
    });
  });

  it('adds the identity disk as read-only vdb only when asked', () => {
    const { config, facts } = setup();
    const domain = parseXml(domainXml(facts, config, { identityDisk: true }));
    const disks = all(domain, 'devices/disk');
    expect(disks).toHaveLength(2);
    const identity = disks[1] as XmlElement;
    expect(one(identity, 'source').attributes).toEqual({ file: vmPaths(facts).identity });
    expect(one(identity, 'target').attributes).toEqual({ dev: 'vdb', bus: 'virtio' });
    expect(one(identity, 'driver').attributes).toEqual({ name: 'qemu', type: 'raw' });
    expect(all(identity, 'readonly')).toHaveLength(1);
    expect(all(disks[0] as XmlElement, 'readonly')).toEqual([]);
  });

  it('bounds the TCG code cache only for domainType qemu', () => {
    const { config, facts } = setup({ domainType: 'qemu' }, { tbCacheMiB: 64 });
    const domain = parseXml(domainXml(facts, config, { identityDisk: false }));
    expect(domain.attributes).toEqual({ type: 'qemu' });
    expect(one(domain, 'features/tcg/tb-cache')).toMatchObject({
      attributes: { unit: 'MiB' },
      text: '64',
    });
  });

  it('hands the address over in fw_cfg only with vm.fwCfgAddress', () => {
    const { config, facts } = setup({}, { fwCfgAddress: true }, { prefixLength: '20' });
    const domain = parseXml(domainXml(facts, config, { identityDisk: false }));
    const sysinfo = one(domain, 'sysinfo');
    expect(sysinfo.attributes).toEqual({ type: 'fwcfg' });
    expect(one(sysinfo, 'entry')).toMatchObject({
      attributes: { name: FW_CFG_NET },
      text: '52:54:00:12:34:56 192.168.122.7/20\n',
    });
  });

  it('escapes hostile values: they arrive as data, never as markup', () => {
    const { config, facts } = setup({ network: HOSTILE, dir: `/srv/${HOSTILE}` });
    const xml = domainXml(facts, config, { identityDisk: true });
    expect(xml).not.toContain(HOSTILE);
    const domain = parseXml(xml);
    expect(one(domain, 'devices/interface/source').attributes).toEqual({ network: HOSTILE });
    const sources = all(domain, 'devices/disk/source').map((s) => s.attributes['file']);
    expect(sources).toEqual([
      `/srv/${HOSTILE}/vms/vm7/disk.qcow2`,
      `/srv/${HOSTILE}/vms/vm7/identity.img`,
    ]);
    expect(one(domain, 'devices/serial/source').attributes['path']).toBe(
      `/srv/${HOSTILE}/vms/vm7/console.log`,
    );
  });

  it('never sees a hostile domain name: vmFacts refuses it first', () => {
    const { config } = setup();
    expect(() =>
      vmFacts(
        {
          name: 'vm7',
          hostname: 'vm7',
          addresses: { management: '192.168.122.7' },
          credentials: {},
          attributes: { mac: '52:54:00:12:34:56', domain: `</name><name>x` },
        },
        config,
      ),
    ).toThrow('attribute domain is not a domain name');
  });

  it('is well-formed for xmllint in every variant', () => {
    if (xmllint === '')
      throw new Error(
        'xmllint is not installed (scripts/lib/machine-setup.sh installs libxml2-utils)',
      );
    for (const [host, vm, identityDisk] of [
      [{}, {}, false],
      [{ domainType: 'qemu', network: HOSTILE }, { fwCfgAddress: true }, true],
    ] as const) {
      const { config, facts } = setup(host, vm);
      execFileSync(xmllint, ['--noout', '-'], {
        input: domainXml(facts, config, { identityDisk }),
      });
    }
  });
});
