import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateHostKey, type HostKeyPair, identityDiskFiles } from '@vlab/core';
import { opensshArgs, type RunOutput, run, runChecked } from '@vlab/testlab';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDENTITY_SCRIPT } from '../src/identity-disk.js';
import { GUEST_PATHS } from '../src/paths.js';
import { type OsLab, pollUntil, startOsLab } from './lab.fixture.js';

// The identity disk protocol end to end on a lab computer: preCapture leaves an image whose boot
// installs the host keys of an identity disk (attached by the testlab harness as a provisioner
// without write access to the disk would) before sshd starts; a boot without one changes nothing.
describe.each(['bookworm', 'trixie'] as const)(
  'the identity disk on a Debian %s lab computer',
  (suite) => {
    let t: OsLab;
    let dir: string;

    /** `systemctl show` properties of a unit, over the module's communicator. */
    const unitProperties = async (unit: string, names: readonly string[]) => {
      const out = (
        await t.guest(['systemctl', 'show', unit, ...names.map((n) => `--property=${n}`)])
      ).stdout.toString();
      return Object.fromEntries(
        out
          .trim()
          .split('\n')
          .map((l) => l.split(/=(.*)/s).slice(0, 2)),
      );
    };

    beforeAll(async () => {
      t = await startOsLab(suite);
      dir = await mkdtemp(join(tmpdir(), 'vlab-os-linux-identity-'));
      await t.harness.reset();
    });
    afterAll(async () => {
      await t?.close();
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    });

    it('postLoad installs the unit, which finds no disk at boot and changes nothing', async () => {
      await t.os.postLoad(t.ctx('postLoad'));
      expect((await t.harness.readFile(GUEST_PATHS.identityScript))?.toString()).toBe(
        IDENTITY_SCRIPT,
      );
      expect(
        (await t.guest(['stat', '-c', '%a %U', GUEST_PATHS.identityScript])).stdout.toString(),
      ).toBe('755 root\n');
      expect(
        (await t.guest(['systemctl', 'is-enabled', 'vlab-identity.service'])).stdout.toString(),
      ).toBe('enabled\n');
      const keysBefore = (
        await t.guest(['sh', '-c', 'cat /etc/ssh/ssh_host_*_key.pub'])
      ).stdout.toString();
      await t.os.reboot(t.ctx('reboot'), { timeoutMs: 120_000 });
      // It ran at this boot (sysinit.target is reached in a container too), found no disk, exit 0.
      expect(
        await unitProperties('vlab-identity.service', [
          'Result',
          'ExecMainStatus',
          'ExecMainExitTimestampMonotonic',
        ]),
      ).toMatchObject({
        Result: 'success',
        ExecMainStatus: '0',
        ExecMainExitTimestampMonotonic: expect.stringMatching(/^[1-9]/),
      });
      const journal = await t.guest([
        'journalctl',
        '-b',
        '-u',
        'vlab-identity.service',
        '-o',
        'cat',
      ]);
      expect(journal.stdout.toString()).toContain(
        'no identity disk (no file system labelled VLAB-ID): nothing to do',
      );
      expect(
        (await t.guest(['sh', '-c', 'cat /etc/ssh/ssh_host_*_key.pub'])).stdout.toString(),
      ).toBe(keysBefore);
      expect((await t.os.postLoad(t.ctx('postLoad'))).changed).toBe(false);
    });

    it('after preCapture, a boot with an identity disk serves its host keys from the start', async () => {
      await t.os.preCapture(t.ctx('preCapture'), {
        stamp: { image: `debian-${suite}`, revision: 2 },
      });
      expect(await t.harness.labComputer.power()).toBe('off');
      const key: HostKeyPair = generateHostKey('c1');
      await t.harness.bootWithIdentityDisk?.(identityDiskFiles([key]));
      // The first keys the server presents are the disk's: no other key was ever served.
      const presented = await pollUntil(
        async () => (await t.harness.presentedHostKeys?.()) ?? [],
        (keys) => keys.length > 0,
        60_000,
      );
      const disk = key.publicKey.split(' ').slice(0, 2).join(' ');
      expect(presented).toEqual([disk]);

      // A first contact trusted through the disk's key alone (StrictHostKeyChecking=yes).
      const knownHosts = join(dir, 'known_hosts');
      const ip = t.harness.labComputer.ip;
      await writeFile(knownHosts, `${ip} ${disk}\n`);
      const ssh = (command: string): Promise<RunOutput> =>
        run('ssh', [
          ...opensshArgs({ keyPath: t.lab.managementKey.path, address: ip, knownHosts }),
          command,
        ]);
      const files = await ssh('cd /etc/ssh && ls -d ssh_host_* && stat -c "%n %a %U" ssh_host_*');
      expect(files.stderr).toBe('');
      expect(files.stdout).toBe(
        'ssh_host_ed25519_key\nssh_host_ed25519_key.pub\nssh_host_ed25519_key 600 root\nssh_host_ed25519_key.pub 644 root\n',
      );
      const journal = await ssh('journalctl -b -u vlab-identity.service -o cat');
      const fingerprint = await fingerprintOf(dir, key.publicKey);
      expect(journal.stdout).toMatch(
        new RegExp(
          `installed the SSH host keys of the identity disk /dev/loop\\d+ \\(ed25519 ${fingerprint.replace(/[+/]/g, '\\$&')}\\); removed 0 other host key files`,
        ),
      );
      expect(journal.stdout).not.toContain(disk.split(' ')[1]);
      // Ordered before sshd: it had exited when sshd started.
      const order = await ssh(
        'systemctl show -P ExecMainExitTimestampMonotonic vlab-identity.service; systemctl show -P ExecMainStartTimestampMonotonic ssh.service',
      );
      const [identityDone = 0, sshStarted = 0] = order.stdout.trim().split('\n').map(Number);
      expect(identityDone).toBeGreaterThan(0);
      expect(sshStarted).toBeGreaterThan(identityDone);
      // The boot-time key maker saw keys and did nothing.
      const keyMaker = await ssh('systemctl show -P ConditionResult vlab-ssh-host-keys.service');
      expect(keyMaker.stdout.trim()).toBe('no');
    });
  },
);

async function fingerprintOf(dir: string, publicKey: string): Promise<string> {
  const file = join(dir, 'fingerprint.pub');
  await writeFile(file, `${publicKey}\n`);
  return (await runChecked('ssh-keygen', ['-l', '-f', file])).stdout.split(' ')[1] ?? '';
}
