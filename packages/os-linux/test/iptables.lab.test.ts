import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { cacheDir, run, runChecked } from '@vlab/testlab';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linuxOsConfig } from '../src/config.js';
import { createLinuxOsModule } from '../src/linux-os-module.js';
import { clientsOf, type OsLab, sshFromClient, startOsLab, userKeyPair } from './lab.fixture.js';

// The iptables strategy on a real guest: the lab's images carry nftables only, so the host's
// own Debian packages of iptables (apt-get download, cached) are installed into the guest with
// dpkg, and the module is told to use iptables.
const PACKAGES = [
  'iptables',
  'libip4tc2',
  'libip6tc2',
  'libxtables12',
  'libnetfilter-conntrack3',
  'libnfnetlink0',
  'netbase',
];

/** The .deb files of PACKAGES for this machine's release, downloaded once. */
async function iptablesDebs(): Promise<string> {
  const dir = join(cacheDir(), 'debs-iptables');
  await mkdir(dir, { recursive: true });
  const have = await readdir(dir);
  if (PACKAGES.every((p) => have.some((f) => f.startsWith(`${p}_`)))) return dir;
  // apt-get download writes into the current directory.
  const download = () =>
    run('sh', ['-c', 'cd "$1" && shift && apt-get download "$@"', 'sh', dir, ...PACKAGES], {
      timeoutMs: 300_000,
    });
  let out = await download();
  if (out.code !== 0) {
    // No package lists yet on a fresh machine.
    await runChecked('apt-get', ['update', '-qq'], { timeoutMs: 300_000 });
    out = await download();
  }
  if (out.code !== 0)
    throw new Error(`apt-get download ${PACKAGES.join(' ')} failed: ${out.stderr}`);
  return dir;
}

/** The lab suite matching this machine's release, so the host's packages fit the guest. */
async function hostSuite(): Promise<'bookworm' | 'trixie'> {
  const release = await runChecked('sh', ['-c', '. /etc/os-release; echo "$VERSION_CODENAME"']);
  const codename = release.stdout.trim();
  if (codename !== 'bookworm' && codename !== 'trixie')
    throw new Error(`this test needs a Debian 12 or 13 host, not "${codename}"`);
  return codename;
}

describe('os-linux with firewall: iptables, on a guest that has iptables', () => {
  let t: OsLab;
  beforeAll(async () => {
    const debs = await iptablesDebs();
    t = await startOsLab(await hostSuite());
    await t.harness.reset();
    const c1 = t.harness.labComputer;
    // Into the guest's root through the host's side of its mount, then dpkg inside the guest.
    await runChecked('mkdir', ['-p', join(c1.dir, 'root/var/tmp/debs')]);
    await runChecked('sh', [
      '-c',
      'cp "$1"/*.deb "$2"/',
      'cp',
      debs,
      join(c1.dir, 'root/var/tmp/debs'),
    ]);
    const installed = await t.guest([
      'sh',
      '-c',
      'dpkg -i /var/tmp/debs/*.deb && rm -rf /var/tmp/debs',
    ]);
    expect(installed.code, installed.stderr.toString()).toBe(0);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('opens SSH to the allowed client only, and closes it again', async () => {
    const os = createLinuxOsModule(linuxOsConfig({ firewall: 'iptables', pollIntervalMs: 200 }));
    const [client1, client2] = clientsOf(t);
    const ip = t.harness.labComputer.ip;
    await using key = await userKeyPair('dave@iptables');
    await os.postLoad(t.ctx('postLoad'));
    expect((await os.postLoad(t.ctx('postLoad'))).changed).toBe(false);
    await os.reserve(t.ctx('reserve'), {
      users: [{ login: 'dave', sshKeys: [key.publicKey], admin: false, allowFrom: [client1.ip] }],
    });
    const chain = (await t.guest(['iptables', '-S', 'VLAB-SSH'])).stdout.toString();
    expect(chain).toContain(`-A VLAB-SSH -s ${client1.ip}/32 -j RETURN`);
    expect((await t.guest(['iptables', '-S', 'INPUT'])).stdout.toString()).toContain(
      '-A INPUT -p tcp -m tcp --dport 22 -j VLAB-SSH',
    );
    expect((await sshFromClient(client1, ip, 'dave', key.path, 'id -un')).stdout).toBe('dave\n');
    const other = await sshFromClient(client2, ip, 'dave', key.path, 'id -un');
    expect(other.code).toBe(255);
    expect(other.stderr).toMatch(/Connection refused|Connection reset|closed/);

    await os.sanitize(t.ctx('sanitize'));
    expect((await t.guest(['iptables', '-S', 'VLAB-SSH'])).stdout.toString()).not.toContain(
      client1.ip,
    );
    expect((await sshFromClient(client1, ip, 'dave', key.path, 'id -un')).code).toBe(255);
    // The jump is installed once, however often the rules are applied.
    const jumps = (await t.guest(['iptables', '-S', 'INPUT'])).stdout
      .toString()
      .match(/-j VLAB-SSH/g);
    expect(jumps).toHaveLength(1);
    // At boot, vlab-firewall.service loads the same rules.
    await os.reboot(t.ctx('reboot'), { timeoutMs: 120_000 });
    expect((await t.guest(['iptables', '-S', 'VLAB-SSH'])).stdout.toString()).toContain(
      '-j REJECT --reject-with tcp-reset',
    );
    expect((await sshFromClient(client1, ip, 'dave', key.path, 'id -un')).code).toBe(255);
    expect(await os.isResponding(t.ctx('isResponding'))).toBe(true);
  });
});
