import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateHostKey, IDENTITY_DISK, identityDiskFiles } from '@vlab/core';
import { describe, expect, it } from 'vitest';
import { run } from '../src/exec.js';
import { createLabHarness } from '../src/harness.js';
import { useHarnessLab } from './fixtures/harness-lab.js';

const CONTEXT = { phase: 'harness-1.1-test', timeoutMs: 30_000 };

/** The lab's pins, in the order presentedHostKeys gives them (ed25519, ecdsa, rsa). */
function sortedKeys(keys: readonly string[]): string[] {
  const rank = (k: string) =>
    k.startsWith('ssh-ed25519 ')
      ? 0
      : k.startsWith('ecdsa-')
        ? 1
        : k.startsWith('ssh-rsa ')
          ? 2
          : 3;
  return [...keys].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/** `text` as a literal in a regular expression. */
function literal(text: string | undefined): string {
  return (text ?? '').replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Local `ssh -tt` clients that log in to `address` (a leaked session would show here). */
function sessionClients(address: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (args[0] === 'ssh' && args.includes('-tt') && args.some((a) => a.endsWith(`@${address}`)))
        out.push(`${entry} ${args.join(' ')}`);
    } catch {
      // gone
    }
  }
  return out;
}

// The contract 1.1 methods of the lab harness: an identity disk attached at boot, the host keys a
// client sees, and real user sessions over SSH with a pty.
describe('the lab harness (contract 1.1)', () => {
  // Nothing may be left after down: loop devices (identity disks) and snapshot mounts included.
  const setup = useHarnessLab();

  /** A command's trimmed stdout and exit code inside the guest, through the harness's communicator. */
  async function guest(argv: readonly string[]): Promise<{ code: number; stdout: string }> {
    const out = await setup.harness.osContext(CONTEXT).communicator.run(argv);
    return { code: out.code, stdout: out.stdout.toString('utf8').trim() };
  }

  it('boots with an identity disk the guest finds by its label and reads without mounting', async () => {
    await setup.harness.reset();
    const c1 = setup.harness.labComputer;
    const key = generateHostKey('c1');
    await setup.harness.bootWithIdentityDisk?.(identityDiskFiles([key]));
    expect(await setup.harness.power()).toBe('on');
    await c1.waitForSsh(); // the base image has no identity unit: its own host keys stay
    const loop = readFileSync(join(c1.dir, 'run/identity-loop'), 'utf8').trim();
    expect(loop).toMatch(/^\/dev\/loop\d+$/);
    const found = await guest(['blkid', '-L', IDENTITY_DISK.label]);
    expect(found).toEqual({ code: 0, stdout: loop });
    expect(await guest(['blkid', '-o', 'value', '-s', 'TYPE', loop])).toEqual({
      code: 0,
      stdout: 'ext4',
    });
    const manifest = await guest(['debugfs', '-R', `cat /${IDENTITY_DISK.manifestPath}`, loop]);
    expect(JSON.parse(manifest.stdout)).toEqual({ version: IDENTITY_DISK.version });
    const pub = await guest(['debugfs', '-R', 'cat /ssh/ssh_host_ed25519_key.pub', loop]);
    expect(pub.stdout).toBe(key.publicKey);
    const priv = await guest(['debugfs', '-R', 'stat /ssh/ssh_host_ed25519_key', loop]);
    expect(priv.stdout).toMatch(/Mode:\s+0600/);
    // Read-only: the guest cannot write it.
    expect((await guest(['blockdev', '--getro', loop])).stdout).toBe('1');
    // Nothing in the base image takes keys from it: the server still presents the lab's pins.
    expect(await setup.harness.presentedHostKeys?.()).toEqual(sortedKeys(c1.hostKeys));
  });

  it('keeps the disk attached across a guest reboot and detaches it when the guest ends', async () => {
    const c1 = setup.harness.labComputer;
    const image = join(c1.dir, 'identity.img');
    const before = c1.bootId();
    await guest(['systemctl', 'reboot']).catch(() => undefined);
    // The runner writes a new boot id when it boots the disk again; then SSH answers in that boot.
    const deadline = Date.now() + 120_000;
    while (c1.bootId() === undefined || c1.bootId() === before) {
      if (Date.now() > deadline)
        throw new Error('c1 did not boot again within 120 s of its reboot');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await c1.waitForSsh();
    expect((await guest(['blkid', '-L', IDENTITY_DISK.label])).code).toBe(0);
    await c1.powerOff();
    await c1.waitForPower('off');
    // Power reads off only once the runner ended, after it detached the loop device.
    expect((await run('losetup', ['-j', image])).stdout).toBe('');
    expect(await setup.harness.presentedHostKeys?.()).toEqual([]); // nothing answers
    // From off: attached again at the next boot.
    await setup.harness.bootWithIdentityDisk?.(identityDiskFiles([generateHostKey('c1')]));
    await c1.waitForSsh();
    expect((await run('losetup', ['-j', image])).stdout).toContain(image);
    expect((await guest(['blkid', '-L', IDENTITY_DISK.label])).code).toBe(0);
  });

  it('reset removes the identity disk; the server presents the pinned host keys', async () => {
    await setup.harness.reset();
    const c1 = setup.harness.labComputer;
    expect((await run('losetup', ['-j', join(c1.dir, 'identity.img')])).stdout).toBe('');
    expect(await guest(['blkid', '-L', IDENTITY_DISK.label])).toEqual({ code: 2, stdout: '' });
    expect(await setup.harness.presentedHostKeys?.()).toEqual(sortedKeys(c1.hostKeys));
  });

  it('opens real sessions from the users’ clients, seen in utmp until they end', async () => {
    await setup.harness.reset();
    const users = setup.harness.users();
    const ctx = setup.harness.osContext(CONTEXT);
    for (const user of users) {
      await ctx.communicator.runChecked([
        'useradd',
        '-m',
        '-s',
        '/bin/bash',
        ...(user.uid === undefined ? [] : ['-u', String(user.uid)]),
        user.login,
      ]);
      const ssh = `/home/${user.login}/.ssh`;
      await ctx.communicator.runChecked([
        'install',
        '-d',
        '-m',
        '700',
        '-o',
        user.login,
        '-g',
        user.login,
        ssh,
      ]);
      await ctx.communicator.runChecked(
        [
          'install',
          '-m',
          '600',
          '-o',
          user.login,
          '-g',
          user.login,
          '/dev/stdin',
          `${ssh}/authorized_keys`,
        ],
        { stdin: `${user.sshKeys.join('\n')}\n` },
      );
    }
    const [alice, bob] = users;
    const [client1, client2] = setup.lab.clients;
    const ip = setup.harness.labComputer.ip;
    const end = await setup.harness.openSession?.(alice?.login ?? '');
    // who reads utmp: one pty session of alice's, from client1 (her allowFrom).
    const during = (await guest(['who'])).stdout.split('\n');
    expect(during).toHaveLength(1);
    expect(during[0]).toMatch(new RegExp(`^alice\\s+pts/\\d+ .*\\(${literal(client1?.ip)}\\)$`));
    expect(sessionClients(ip)).toHaveLength(1);
    await end?.();
    expect(await guest(['who'])).toEqual({ code: 0, stdout: '' });
    expect(sessionClients(ip)).toEqual([]);
    expect((await guest(['last', '-w', 'alice'])).stdout).toMatch(/^alice\s+pts\/\d+\s+\S+/);

    const endBob = await setup.harness.openSession?.(bob?.login ?? '');
    expect((await guest(['who'])).stdout).toMatch(
      new RegExp(`^bob\\s+pts/\\d+ .*\\(${literal(client2?.ip)}\\)$`),
    );
    await endBob?.();
    await endBob?.(); // idempotent
    expect(await guest(['who'])).toEqual({ code: 0, stdout: '' });
    await expect(setup.harness.openSession?.('mallory')).rejects.toThrow(
      /not one of the harness's users/,
    );
  });

  it('close ends the sessions still open', async () => {
    // A second harness has a key pair of its own: authorize it for alice too.
    const other = await createLabHarness(setup.lab, 'c1');
    const ip = setup.harness.labComputer.ip;
    try {
      const ctx = setup.harness.osContext(CONTEXT);
      await ctx.communicator.runChecked(['tee', '-a', '/home/alice/.ssh/authorized_keys'], {
        stdin: `${other.users()[0]?.sshKeys.join('\n')}\n`,
      });
      await other.openSession?.('alice');
      expect((await guest(['who'])).stdout).toMatch(/^alice\s/);
    } finally {
      await other.close();
    }
    expect(await guest(['who'])).toEqual({ code: 0, stdout: '' });
    expect(sessionClients(ip)).toEqual([]);
  });

  it('lists the session key among its secrets and logs none of them', () => {
    const secrets = setup.harness.secrets().map((s) => s.reveal());
    // Two passwords, the BMC password, the management key and the session key.
    expect(secrets).toHaveLength(5);
    expect(secrets.filter((s) => s.includes('OPENSSH PRIVATE KEY'))).toHaveLength(2);
    const logged = JSON.stringify(setup.harness.logs());
    for (const secret of secrets) expect(logged).not.toContain(secret);
  });

  it('leaves an identity disk attached for down to remove (checked after all)', async () => {
    const c1 = setup.harness.labComputer;
    await setup.harness.bootWithIdentityDisk?.(identityDiskFiles([generateHostKey('c1')]));
    await c1.waitForSsh();
    expect((await run('losetup', ['-j', join(c1.dir, 'identity.img')])).stdout).toContain(
      'identity.img',
    );
  });
});
