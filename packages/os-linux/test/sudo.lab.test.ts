import { readFile } from 'node:fs/promises';
import {
  createLogger,
  createOsContext,
  generateHostKey,
  type LogRecord,
  type OsContext,
  Secret,
} from '@vlab/core';
import { MemoryHostKeyStore, SshCommunicator, SshPool } from '@vlab/ssh';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linuxOsConfig } from '../src/config.js';
import { IDENTITY_SCRIPT } from '../src/identity-disk.js';
import { createLinuxOsModule } from '../src/linux-os-module.js';
import { GUEST_PATHS } from '../src/paths.js';
import { type OsLab, startOsLab, userKeyPair } from './lab.fixture.js';

// `sudo: true`: the management logs in as an unprivileged user with sudo rights, and every
// command that needs root goes through sudo — on a real bookworm guest, through a real sshd.
describe('os-linux with a management login other than root (sudo: true)', () => {
  let t: OsLab;
  let pool: SshPool;
  let ctx: (phase: string) => OsContext;
  const records: LogRecord[] = [];
  // A management key postLoad adds to root's authorized_keys and preCapture takes out again.
  const opsKey = generateHostKey('ops@vlab').publicKey;
  const os = createLinuxOsModule(
    linuxOsConfig({
      sudo: true,
      pollIntervalMs: 200,
      managementKeys: [opsKey],
      keepManagementKeysInImage: false,
    }),
  );

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
    const labKey = (await readFile(`${t.lab.managementKey.path}.pub`, 'utf8')).trim();
    const rootKeys = (await t.harness.readFile('/root/.ssh/authorized_keys'))?.toString() ?? '';
    expect(rootKeys).toContain(`${opsKey}\n`);
    expect(rootKeys).toContain(labKey);
    expect(
      (await t.guest(['stat', '-c', '%U %a', '/root/.ssh/authorized_keys'])).stdout.toString(),
    ).toBe('root 600\n');
    // /etc/hosts names the host on its one 127.0.1.1 line.
    const hosts = (await t.harness.readFile('/etc/hosts'))?.toString() ?? '';
    expect(hosts.split('\n').filter((line) => line.startsWith('127.0.1.1'))).toEqual([
      '127.0.1.1\tc1',
    ]);
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
    // Written with put through sudo: root's, with the mode asked for.
    const owners = await t.guest([
      'stat',
      '-c',
      '%n %U:%G %a',
      '/etc/sudoers.d/vlab-carol',
      '/etc/ssh/vlab-authorized-keys/carol',
      '/var/lib/vlab/reservation.json',
      GUEST_PATHS.identityScript,
    ]);
    expect(owners.stdout.toString()).toBe(
      [
        '/etc/sudoers.d/vlab-carol root:root 440',
        '/etc/ssh/vlab-authorized-keys/carol root:root 644',
        '/var/lib/vlab/reservation.json root:root 600',
        `${GUEST_PATHS.identityScript} root:root 755`,
        '',
      ].join('\n'),
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
    expect((await t.harness.readFile(GUEST_PATHS.identityScript))?.toString()).toBe(
      IDENTITY_SCRIPT,
    );
    expect(records.filter((r) => r.level === 'error')).toEqual([]);
  });
});
