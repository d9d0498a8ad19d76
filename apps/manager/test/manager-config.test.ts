import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseManagerConfig } from '../src/config/config-file.js';
import { configuredComputers, managerConfigSchema } from '../src/config/manager-config.js';
import { parseFails } from './expect-failure.js';
import { FULL_EXAMPLE } from './full-example.js';

const HEADER = `lab: demo
dataDir: d
osModules:
  linux: { package: '@vlab/os-linux' }
provisioners:
  bm: { package: '@vlab/provisioner-baremetal' }
  vm: { package: '@vlab/provisioner-vm' }
`;

describe('cross-references', () => {
  it('refuses a computer or pool whose provisioner does not exist, suggesting the closest', () => {
    const text = `${HEADER}pools:
  - provisioner: bn
    computers:
      - { name: c1, hostname: c1.lab, addresses: { management: 10.0.0.1 } }
computers:
  - { name: c2, provisioner: hyperv, hostname: c2.lab, addresses: { management: 10.0.0.2 } }
`;
    const error = parseFails(text);
    console.info(`[example] ${error.message}`);
    expect(error.code).toBe('VLAB_ERR_CONFIG_INVALID');
    expect(error.message).toContain(
      'vlab.yaml:9:18: pools.0.provisioner: there is no provisioner "bn" (provisioners: bm, vm); did you mean `bm`?',
    );
    expect(error.message).toContain(
      'vlab.yaml:13:30: computers.0.provisioner: there is no provisioner "hyperv" (provisioners: bm, vm)',
    );
  });

  it('refuses a computer name used twice across pools and computers', () => {
    const text = `${HEADER}pools:
  - provisioner: bm
    computers:
      - { name: c1, hostname: c1.lab, addresses: { management: 10.0.0.1 } }
  - provisioner: vm
    computers:
      - { name: c1, hostname: c1b.lab, addresses: { management: 10.0.0.3 } }
computers:
  - { name: c1, provisioner: bm, hostname: c2.lab, addresses: { management: 10.0.0.2 } }
`;
    const error = parseFails(text);
    console.info(`[example] ${error.message}`);
    expect(error.message).toContain(
      'vlab.yaml:14:17: pools.1.computers.0.name: the computer name c1 is already used by pools.0.computers.0.name',
    );
    expect(error.message).toContain(
      'vlab.yaml:16:13: computers.0.name: the computer name c1 is already used by pools.0.computers.0.name',
    );
  });

  it('refuses an image whose OS family has no OS module, and an image name used twice', () => {
    const text = `${HEADER}images:
  - { name: debian-12, osFamily: linux, owner: alice }
  - { name: win-11, osFamily: windows, owner: bob, newRevisionTest: manual }
  - { name: debian-12, osFamily: linux, owner: carol }
`;
    const error = parseFails(text);
    console.info(`[example] ${error.message}`);
    expect(error.message).toContain(
      'vlab.yaml:10:31: images.1.osFamily: no OS module for the OS family windows (osModules: linux): add osModules.windows or fix the family',
    );
    expect(error.message).toContain(
      'vlab.yaml:11:13: images.2.name: the image name debian-12 is already used by images.0',
    );
  });

  it('checks cross-references only once the keys themselves are right', () => {
    const error = parseFails(`${HEADER}computers:
  - { name: c1, provisioner: nope, hostname: c1.lab, addresses: { management: 10.0.0.1 } }
images:
  - { name: d, osFamily: linux, owner: alice, newRevisionTest: maybe }
`);
    expect(error.details['fields']).toEqual([
      expect.objectContaining({ path: ['images', 0, 'newRevisionTest'] }),
    ]);
  });
});

describe('configuredComputers', () => {
  it('gives core ComputerRefs with the pool defaults merged under each computer', () => {
    const { config } = parseManagerConfig(FULL_EXAMPLE, '/etc/vlab/vlab.yaml');
    expect(configuredComputers(config)).toEqual([
      {
        provisioner: 'bm',
        path: ['pools', 0, 'computers', 0],
        computer: {
          name: 'c1',
          hostname: 'c1.lab.example',
          addresses: { management: '10.0.0.11', public: '192.0.2.11' },
          attributes: { bmcUser: 'admin', deployDisk: '/dev/sda', bmcHost: '10.0.1.11' },
          credentials: { bmc: { env: 'VLAB_BMC' }, deployKey: { file: '/etc/vlab/keys/deploy' } },
        },
      },
      {
        provisioner: 'bm',
        path: ['pools', 0, 'computers', 1],
        computer: {
          name: 'c3',
          hostname: 'c3.lab.example',
          addresses: { management: '10.0.0.13' },
          // The computer's own attribute wins over the pool's.
          attributes: { bmcUser: 'operator', deployDisk: '/dev/sda', bmcHost: '10.0.1.13' },
          credentials: { bmc: { env: 'VLAB_BMC' } },
        },
      },
      {
        provisioner: 'bm',
        path: ['computers', 0],
        computer: {
          name: 'c2',
          hostname: 'c2.lab.example',
          addresses: { management: '10.0.0.12' },
          attributes: { bmcHost: '10.0.1.12' },
          credentials: { bmc: { env: 'VLAB_BMC_C2' } },
        },
      },
    ]);
  });
});

/** Control characters, the right-to-left override and lone surrogates: never in a message. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202e\ud800-\udfff]/;

describe('hostile strings', () => {
  const HOSTILE = [
    "'; rm -rf / #",
    'c1\nc2',
    'c1\u0000',
    'nœud-1',
    '\u202ec1',
    '\u001b[31mred',
    '../../etc',
    'x'.repeat(300),
    '\ud800',
  ];

  function computerWithName(name: string): string {
    return `${HEADER}computers:\n  - { name: ${JSON.stringify(name)}, provisioner: bm, hostname: c.lab, addresses: { management: 10.0.0.1 } }\n`;
  }

  it('refuses them as names of computers, provisioners, OS families, images and the lab', () => {
    for (const name of HOSTILE) {
      for (const text of [
        computerWithName(name),
        `lab: ${JSON.stringify(name)}\ndataDir: d\n`,
        `lab: demo\ndataDir: d\nprovisioners: { ${JSON.stringify(name)}: { package: x } }\n`,
        `lab: demo\ndataDir: d\nosModules: { ${JSON.stringify(name)}: { package: x } }\n`,
        `${HEADER}images: [{ name: ${JSON.stringify(name)}, osFamily: linux, owner: alice }]\n`,
        `${HEADER}images: [{ name: d, osFamily: linux, owner: ${JSON.stringify(name)} }]\n`,
        `lab: demo\ndataDir: d\nosModules: { linux: { package: ${JSON.stringify(name)} } }\n`,
      ]) {
        const error = parseFails(text);
        expect(error.code).toBe('VLAB_ERR_CONFIG_INVALID');
        // One line, printable ASCII and the few typographic characters of the messages.
        expect(error.message).not.toMatch(UNSAFE);
      }
    }
  });

  it('escapes them where a message must show them (unknown keys)', () => {
    const error = parseFails(`lab: demo\ndataDir: d\n"\\e[31m\\u202e\\0evil\\nkey": 1\n`);
    expect(error.message).toContain('["\\u001b[31m\\u202e\\u0000evil\\nkey"]: unknown key');
    expect(error.message).not.toMatch(UNSAFE);
  });

  it('keeps them as data where any text is allowed (attribute values, module settings)', () => {
    const { config } = parseManagerConfig(
      `${HEADER}computers:
  - name: c1
    provisioner: bm
    hostname: c1.lab
    addresses: { management: 10.0.0.1 }
    attributes: { note: "'; rm -rf / #\\nnext line — ünïcødé" }
provisioners:
  bm: { package: x, settings: { path: "'; rm -rf / #\\u0000" } }
`.replace(
        `provisioners:\n  bm: { package: '@vlab/provisioner-baremetal' }\n  vm: { package: '@vlab/provisioner-vm' }\n`,
        '',
      ),
      'vlab.yaml',
    );
    expect(config.computers[0]?.attributes['note']).toBe("'; rm -rf / #\nnext line — ünïcødé");
    expect(config.provisioners['bm']?.settings).toEqual({ path: "'; rm -rf / #\u0000" });
    // A NUL in an attribute is refused: it cannot reach a program intact.
    expect(
      parseFails(
        `${HEADER}computers:\n  - { name: c1, provisioner: bm, hostname: c, addresses: { management: c }, attributes: { a: "x\\0" } }\n`,
      ).message,
    ).toContain('computers.0.attributes.a: must not contain a NUL character');
  });
});

describe('managerConfigSchema', () => {
  it('describes every key, for the generated docs page', () => {
    const schema = z.toJSONSchema(managerConfigSchema, { io: 'input', unrepresentable: 'throw' });
    const undocumented: string[] = [];
    const walk = (node: unknown, path: string): void => {
      if (typeof node !== 'object' || node === null) return;
      const record = node as Record<string, unknown>;
      const properties = record['properties'] as
        | Record<string, Record<string, unknown>>
        | undefined;
      for (const [key, value] of Object.entries(properties ?? {})) {
        if (typeof value['description'] !== 'string') undocumented.push(`${path}.${key}`);
        walk(value, `${path}.${key}`);
      }
      for (const key of ['items', 'additionalProperties', 'propertyNames'] as const) {
        if (typeof record[key] === 'object') walk(record[key], `${path}[${key}]`);
      }
      for (const key of ['anyOf', 'oneOf', 'allOf'] as const) {
        const options = record[key];
        if (!Array.isArray(options)) continue;
        for (const [i, option] of options.entries()) walk(option, `${path}|${i}`);
      }
    };
    walk(schema, '');
    expect(undocumented).toEqual([]);
    expect(schema['additionalProperties']).toBe(false);
  });
});

describe('files that are not configurations', () => {
  it('refuses deep nesting, garbage and huge lists with VLAB_ERR_CONFIG_INVALID, never a crash', () => {
    const garbage = Array.from({ length: 4000 }, (_, i) =>
      String.fromCharCode((i * 7919) % 256),
    ).join('');
    for (const text of [
      `${'['.repeat(3000)}${']'.repeat(3000)}`,
      `a: ${'{b: '.repeat(2000)}1${'}'.repeat(2000)}`,
      `${'- '.repeat(3000)}x`,
      garbage,
      `lab: demo\ndataDir: d\n${'x'.repeat(500)}: 1\n`,
      `lab: demo\ndataDir: d\ncomputers:\n${'  - {}\n'.repeat(2000)}`,
    ]) {
      const error = parseFails(text);
      expect(error.code).toBe('VLAB_ERR_CONFIG_INVALID');
      // Paths, keys and the list of issues are cut: the message stays readable.
      expect(error.message.length).toBeLessThan(4000);
      expect(error.message).not.toMatch(UNSAFE);
    }
  });
});
