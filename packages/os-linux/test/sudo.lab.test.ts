import { readFile } from 'node:fs/promises';
import { createLogger, createOsContext, type LogRecord, type OsContext, Secret } from '@vlab/core';
import { MemoryHostKeyStore, SshCommunicator, SshPool } from '@vlab/ssh';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linuxOsConfig } from '../src/config.js';
import { createLinuxOsModule } from '../src/linux-os-module.js';
import { type OsLab, startOsLab, userKeyPair } from './lab.fixture.js';

// `sudo: true`: the management logs in as an unprivileged user with sudo rights, and every
// command that needs root goes through sudo — on a real bookworm guest, through a real sshd.
describe('os-linux with a management login other than root (sudo: true)', () => {
  let t: OsLab;
  let pool: SshPool;
  let ctx: (phase: string) => OsContext;
  const records: LogRecord[] = [];
  const os = createLinuxOsModule(linuxOsConfig({ sudo: true, pollIntervalMs: 200 }));

  beforeAll(async () => {
    t = await startOsLab('bookworm');
    await t.harness.reset();
    const publicKey = (await readFile(`${t.lab.managementKey.path}.pub`, 'utf8')).trim();
    const setup = await t.guest(
      [
        'sh',
        '-c',
        `useradd --create-home --system --shell /bin/sh vlabops
mkdir -p /home/vlabops/.ssh && cat > /home/vlabops/.ssh/authorized_keys
chown -R vlabops: /home/vlabops/.ssh && chmod 700 /home/vlabops/.ssh
echo 'vlabops ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/vlabops && chmod 440 /etc/sudoers.d/vlabops`,
      ],
      `${publicKey}\n`,
    );
    expect(setup.stderr.toString()).toBe('');
    const c1 = t.harness.labComputer;
    pool = new SshPool({ hostKeys: new MemoryHostKeyStore({ [c1.ip]: c1.hostKeys }) });
    const client = pool.client({
      host: c1.ip,
      user: 'vlabops',
      auth: {
        kind: 'key',
        privateKey: new Secret(await readFile(t.lab.managementKey.path, 'utf8'), 'management key'),
      },
      computer: 'c1',
    });
    const communicator = new SshCommunicator(client);
    const base = t.ctx('base');
    ctx = (phase) =>
      createOsContext({
        log: createLogger((r) => records.push(r)),
        deadline: Date.now() + 120_000,
        phase,
        computer: base.computer,
        image: base.image,
        communicator,
        power: base.power,
      });
  });
  afterAll(async () => {
    await pool?.close();
    await t?.close();
  });

  it('loads, reserves, sanitizes and captures through sudo', async () => {
    expect((await ctx('whoami').communicator.run(['id', '-un'])).stdout.toString()).toBe(
      'vlabops\n',
    );
    const loaded = await os.postLoad(ctx('postLoad'));
    expect(loaded.stamp.state).toBe('ready');
    expect((await os.postLoad(ctx('postLoad'))).changed).toBe(false);
    await using key = await userKeyPair('carol@sudo');
    await os.reserve(ctx('reserve'), {
      users: [
        { login: 'carol', sshKeys: [key.publicKey], admin: true, allowFrom: ['192.0.2.0/24'] },
      ],
    });
    expect(await t.harness.accounts()).toEqual(['carol']);
    expect((await t.harness.readFile('/etc/sudoers.d/vlab-carol'))?.toString()).toContain(
      'carol ALL=(ALL:ALL) NOPASSWD: ALL',
    );
    const table = await ctx('nft').communicator.run(
      ['nft', 'list', 'set', 'inet', 'vlab', 'users4'],
      {
        sudo: true,
      },
    );
    expect(table.stdout.toString()).toContain('192.0.2.0/24');
    await os.sanitize(ctx('sanitize'));
    expect(await t.harness.accounts()).toEqual([]);
    await os.preCapture(ctx('preCapture'), { stamp: { image: 'debian-bookworm', revision: 2 } });
    expect(await t.harness.labComputer.power()).toBe('off');
    expect((await t.harness.readFile('/etc/vlab/image-stamp.json'))?.toString()).toContain(
      '"captured"',
    );
    expect(records.filter((r) => r.level === 'error')).toEqual([]);
  });
});
