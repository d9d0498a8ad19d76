import { isVlabError, parseStamp, type ReservationUser, type Secret } from '@vlab/core';
import { type LabClient, run } from '@vlab/testlab';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  clientsOf,
  type OsLab,
  runWithPassword,
  secret,
  sshFromClient,
  startOsLab,
  userKeyPair,
} from './lab.fixture.js';

// A reservation's whole life on a real Debian guest of @vlab/testlab, checked on the machine
// itself: from the host's side of its disk, over SSH from the lab's two client namespaces, with
// passwords over a separate ssh2 connection, and power through its BMC.
const HOST_KEY_FILES = ['ed25519', 'ecdsa', 'rsa'].map((t) => `/etc/ssh/ssh_host_${t}_key.pub`);
// Stored literally in /etc/passwd, never run: the module must not hand it to a shell.
const HOSTILE_NAME = `Alice "Al" O'Brien $(touch /root/pwned1) \`touch /root/pwned2\` ; rm -rf / # ✓ Ünïcødé`;
const DEMO_SERVICE = `printf '[Service]\\nExecStart=/bin/sleep infinity\\n' > /etc/systemd/system/vlab-demo.service
systemctl daemon-reload
mkdir -p /etc/vlab
printf '# services for users\\nvlab-demo.service\\nnot a unit; reboot\\n' > /etc/vlab/reservation-services`;
const HOSTILE_PASSWORD = `p'; rm -rf / #"$(touch /root/pwned3)\\ ✓ пароль`;

describe.each(['bookworm', 'trixie'] as const)('os-linux on a Debian %s lab computer', (suite) => {
  let t: OsLab;
  let key: Awaited<ReturnType<typeof userKeyPair>>;
  let alice: ReservationUser & { readonly password: Secret };
  let bob: ReservationUser & { readonly password: Secret };
  let users: ReservationUser[];
  let client1: LabClient;
  let client2: LabClient;
  let hostKeys: string[] = [];

  const machineFile = async (path: string) => (await t.harness.readFile(path))?.toString('utf8');
  const stamp = async () =>
    parseStamp((await machineFile('/etc/vlab/image-stamp.json')) ?? '', 'c1');
  const loggedText = () => JSON.stringify(t.harness.logs());

  beforeAll(async () => {
    t = await startOsLab(suite);
    key = await userKeyPair('alice@vlab-test');
    [client1, client2] = clientsOf(t);
    alice = {
      login: 'alice',
      fullName: HOSTILE_NAME,
      sshKeys: [key.publicKey],
      password: secret(`alice-${Math.random()}`, 'password of alice'),
      admin: true,
      allowFrom: [client1.ip, '2001:db8::/64'],
    };
    bob = {
      login: 'bob',
      uid: 2001,
      sshKeys: [key.publicKey],
      password: secret(HOSTILE_PASSWORD, 'password of bob'),
      admin: false,
      allowFrom: [`${client1.ip}/32`],
    };
    users = [alice, bob];
    await t.harness.reset();
  });
  afterAll(async () => {
    await key?.[Symbol.asyncDispose]();
    await t?.close();
  });

  it('postLoad makes the image this machine, pins the new host keys, and is idempotent', async () => {
    const before = {
      hostKeys: await Promise.all(HOST_KEY_FILES.map(machineFile)),
      machineId: await machineFile('/etc/machine-id'),
    };
    expect((await stamp()).state).toBe('captured');
    const first = await t.os.postLoad(t.ctx('postLoad'));
    expect(first.changed).toBe(true);
    expect(first.stamp).toMatchObject({ state: 'ready', computer: 'c1', tainted: false });
    expect(await stamp()).toEqual(first.stamp);
    hostKeys = (await Promise.all(HOST_KEY_FILES.map(machineFile))).map((k) =>
      (k ?? '').split(' ').slice(0, 2).join(' '),
    );
    expect(hostKeys.every((k) => k.length > 20)).toBe(true);
    for (const [index, old] of before.hostKeys.entries()) expect(hostKeys[index]).not.toBe(old);
    expect(await machineFile('/etc/machine-id')).toMatch(/^[0-9a-f]{32}\n$/);
    expect(await machineFile('/etc/machine-id')).not.toBe(before.machineId);
    expect(await machineFile('/etc/hostname')).toBe('c1\n');
    // The keys sshd now serves are the new ones (seen by ssh-keyscan from the management side;
    // the clients are firewalled off until a reservation).
    const scan = await run('ssh-keyscan', ['-T', '5', t.harness.labComputer.ip]);
    const served = scan.stdout.split('\n').filter((l) => l.trim() !== '');
    expect(served.map((l) => l.split(' ').slice(1, 3).join(' ')).sort()).toEqual(
      [...hostKeys].sort(),
    );
    const second = await t.os.postLoad(t.ctx('postLoad'));
    expect(second.changed).toBe(false);
  });

  it('reboot goes down and comes back, and the next contact accepts the new pin', async () => {
    const bootBefore = t.harness.labComputer.bootId();
    // A reboot drops the module's connection: the communicator connects anew and checks the
    // host key against the pin postLoad took. A missed re-pin fails here as a host key mismatch.
    await t.os.reboot(t.ctx('reboot'), { timeoutMs: 120_000 });
    expect(t.harness.labComputer.bootId()).not.toBe(bootBefore);
    expect(await t.os.isResponding(t.ctx('isResponding'))).toBe(true);
    expect((await t.guest(['hostname'])).stdout.toString()).toBe('c1\n');
  });

  it('reserve creates the accounts, opens SSH to the allowed client only, and taints the stamp', async () => {
    const ip = t.harness.labComputer.ip;
    // A service the image declares for users (and a line the module must skip).
    await t.guest(['sh', '-c', DEMO_SERVICE]);
    const result = await t.os.reserve(t.ctx('reserve'), { users });
    expect((await t.guest(['systemctl', 'is-active', 'vlab-demo.service'])).stdout.toString()).toBe(
      'active\n',
    );
    const users6 = await t.guest(['nft', 'list', 'set', 'inet', 'vlab', 'users6']);
    expect(users6.stdout.toString()).toContain('2001:db8::/64');
    expect(result.access).toEqual([
      { login: 'alice', protocol: 'ssh', host: ip, port: 22 },
      { login: 'bob', protocol: 'ssh', host: ip, port: 22 },
    ]);
    expect(await t.harness.accounts()).toEqual(['alice', 'bob']);
    const passwd = (await machineFile('/etc/passwd')) ?? '';
    expect(passwd).toContain(`alice:x:1000:1000:${HOSTILE_NAME}:/home/alice:/bin/bash\n`);
    expect(passwd).toContain('bob:x:2001:2001::/home/bob:/bin/bash\n');
    for (const file of ['/root/pwned1', '/root/pwned2', '/root/pwned3'])
      expect(await machineFile(file)).toBeUndefined();
    expect((await stamp()).tainted).toBe(true);

    // Keys: from the allowed client yes, from the other one no (the firewall resets it).
    const fromAllowed = await sshFromClient(client1, ip, 'alice', key.path, 'id -un');
    expect(fromAllowed.stderr).toBe('');
    expect(fromAllowed.stdout).toBe('alice\n');
    const fromOther = await sshFromClient(client2, ip, 'alice', key.path, 'id -un');
    expect(fromOther.code).toBe(255);
    expect(fromOther.stderr).toMatch(/Connection refused|Connection reset|closed/);

    // Passwords, hostile characters and all, log in literally; sudo only for the admin.
    const whoami = await runWithPassword(ip, hostKeys, 'bob', bob.password, ['id', '-un']);
    expect(whoami.stdout.toString()).toBe('bob\n');
    const bobSudo = await runWithPassword(ip, hostKeys, 'bob', bob.password, [
      'sudo',
      '-n',
      'true',
    ]);
    expect(bobSudo.code).not.toBe(0);
    const aliceSudo = await runWithPassword(
      ip,
      hostKeys,
      'alice',
      alice.password,
      ['sudo', '-S', '-p', '', 'id', '-u'],
      `${alice.password.reveal()}\n`,
    );
    expect(aliceSudo.stdout.toString()).toBe('0\n');

    // Idempotent for the same users (the manager repeats it after a checkpoint).
    await t.os.reserve(t.ctx('reserve'), { users });
    expect(await t.harness.accounts()).toEqual(['alice', 'bob']);
    // A user dropped from the reservation loses the account; the others keep theirs.
    await t.os.reserve(t.ctx('reserve'), { users: [alice] });
    expect(await t.harness.accounts()).toEqual(['alice']);
    expect(await machineFile('/home/bob/.profile')).toBeUndefined();
    await t.os.reserve(t.ctx('reserve'), { users });
    expect(await t.harness.accounts()).toEqual(['alice', 'bob']);
    for (const user of users)
      expect(loggedText()).not.toContain(user.password?.reveal() ?? 'no password');
  });

  it('rejects hostile fields with VLAB_ERR_CONFIG_INVALID and changes nothing', async () => {
    const base = bob;
    const hostile: [string, ReservationUser][] = [
      ['login with quote and command', { ...base, login: "x'; rm -rf / #" }],
      ['login with newline', { ...base, login: 'eve\nroot' }],
      ['login in unicode', { ...base, login: 'évé' }],
      ['reserved login', { ...base, login: 'root' }],
      ['image account', { ...base, login: 'messagebus', uid: undefined }],
      ['uid of another account', { ...base, login: 'eve', uid: 1000 }],
      ['system uid', { ...base, login: 'eve', uid: 0 }],
      [
        'password with newline',
        { ...base, login: 'eve', uid: undefined, password: secret('a\nroot:x', 'nl') },
      ],
      [
        'full name with newline',
        { ...base, login: 'eve', uid: undefined, fullName: 'Eve\nroot::0:0::/:/bin/sh' },
      ],
      ['full name with colon', { ...base, login: 'eve', uid: undefined, fullName: 'Eve:0' }],
      [
        'allowFrom with command',
        { ...base, login: 'eve', uid: undefined, allowFrom: ['1.2.3.4; nft flush ruleset'] },
      ],
      [
        'key with a second line',
        {
          ...base,
          login: 'eve',
          uid: undefined,
          sshKeys: [`${key.publicKey}\nssh-ed25519 AAAA evil`],
        },
      ],
      [
        'key with options',
        { ...base, login: 'eve', uid: undefined, sshKeys: [`command="sh" ${key.publicKey}`] },
      ],
    ];
    const accounts = await t.harness.accounts();
    const passwd = await machineFile('/etc/passwd');
    for (const [what, user] of hostile) {
      const error = await t.os.reserve(t.ctx('reserve'), { users: [user] }).then(
        () => new Error(`accepted: ${what}`),
        (e: unknown) => e,
      );
      expect(isVlabError(error, 'VLAB_ERR_CONFIG_INVALID'), `${what}: ${String(error)}`).toBe(true);
      expect(String((error as Error).message)).not.toContain('root:x');
    }
    expect(await t.harness.accounts()).toEqual(accounts);
    expect(await machineFile('/etc/passwd')).toBe(passwd);
    expect(loggedText()).not.toContain('a\\nroot:x');
  });

  it('sanitize ends sessions and processes, removes accounts and closes the firewall', async () => {
    const ip = t.harness.labComputer.ip;
    await t.guest(['runuser', '-u', 'bob', '--', 'sh', '-c', 'sleep 1000 >/dev/null 2>&1 &']);
    expect((await t.guest(['pgrep', '-u', '2001'])).code).toBe(0);
    await t.os.sanitize(t.ctx('sanitize'));
    expect(await t.harness.accounts()).toEqual([]);
    expect((await t.guest(['pgrep', '-u', '2001'])).code).toBe(1);
    for (const path of [
      '/home/alice',
      '/home/bob',
      '/etc/sudoers.d/vlab-alice',
      '/etc/ssh/vlab-authorized-keys/alice',
      '/var/lib/vlab/reservation.json',
    ])
      expect(await machineFile(`${path}`), path).toBeUndefined();
    const refused = await sshFromClient(client1, ip, 'alice', key.path, 'id -un');
    expect(refused.code).toBe(255);
    expect(refused.stderr).toMatch(/Connection refused|Connection reset|closed/);
    expect((await t.guest(['systemctl', 'is-active', 'vlab-demo.service'])).stdout.toString()).toBe(
      'inactive\n',
    );
    // The management still gets in.
    expect(await t.os.isResponding(t.ctx('isResponding'))).toBe(true);
    await t.os.sanitize(t.ctx('sanitize'));
  });

  it("postReservation runs the image's end-of-reservation scripts in order, and fails on a failing one", async () => {
    await t.guest([
      'sh',
      '-c',
      `mkdir -p /etc/vlab/post-reservation.d
printf '#!/bin/sh\\necho first >> /root/post-reservation.log\\n' > /etc/vlab/post-reservation.d/10-first
printf '#!/bin/sh\\necho second >> /root/post-reservation.log\\n' > /etc/vlab/post-reservation.d/20-second
printf 'not executable\\n' > /etc/vlab/post-reservation.d/30-ignored
chmod +x /etc/vlab/post-reservation.d/10-first /etc/vlab/post-reservation.d/20-second`,
    ]);
    await t.os.postReservation(t.ctx('postReservation'));
    expect(await machineFile('/root/post-reservation.log')).toBe('first\nsecond\n');
    await t.guest([
      'sh',
      '-c',
      "printf '#!/bin/sh\\necho broken >&2; exit 7\\n' > /etc/vlab/post-reservation.d/40-fails; chmod +x /etc/vlab/post-reservation.d/40-fails",
    ]);
    const error = await t.os.postReservation(t.ctx('postReservation')).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isVlabError(error, 'VLAB_ERR_COMMAND_FAILED')).toBe(true);
    expect((error as Error).message).toContain('exited with code 7: broken');
    await t.guest(['rm', '-rf', '/etc/vlab/post-reservation.d', '/root/post-reservation.log']);
  });

  it('shutdown is confirmed off through the BMC, and waitForResponse sees the machine back', async () => {
    await t.os.shutdown(t.ctx('shutdown'), { timeoutMs: 60_000 });
    expect(await t.harness.labComputer.power()).toBe('off');
    expect(
      await t.os.isResponding(t.harness.osContext({ phase: 'isResponding', timeoutMs: 3000 })),
    ).toBe(false);
    await t.harness.labComputer.powerOn();
    await t.os.waitForResponse(t.ctx('waitForResponse'), { timeoutMs: 60_000 });
    expect(await t.os.isResponding(t.ctx('isResponding'))).toBe(true);
    expect((await t.os.readStamp(t.ctx('readStamp')))?.state).toBe('ready');
  });

  it('preCapture with no end state leaves nothing of the reservation or the machine, and powers off', async () => {
    await t.os.reserve(t.ctx('reserve'), { users });
    await t.guest([
      'sh',
      '-c',
      'echo "secret command" > /root/.bash_history; echo x > /home/bob/.bash_history',
    ]);
    await t.guest(['mkdir', '-p', '/var/lib/dhcp']);
    await t.guest(['sh', '-c', 'echo lease > /var/lib/dhcp/dhclient.eth0.leases']);
    const result = await t.os.preCapture(t.ctx('preCapture'), {
      stamp: { image: `debian-${suite}`, revision: 2 },
    });
    expect(result.endState).toBe('off');
    // Power from the BMC, over RMCP+.
    expect(await t.harness.labComputer.power()).toBe('off');
    // The disk, read with debugfs now that it is off.
    expect(await t.harness.accounts()).toEqual([]);
    expect(await stamp()).toMatchObject({
      image: `debian-${suite}`,
      revision: 2,
      state: 'captured',
      tainted: false,
    });
    for (const path of [
      ...HOST_KEY_FILES,
      '/etc/ssh/ssh_host_ed25519_key',
      '/home/alice',
      '/home/bob',
      '/root/.bash_history',
      '/var/lib/dhcp/dhclient.eth0.leases',
      '/var/lib/vlab/reservation.json',
      '/etc/vlab/firewall.nft',
      '/etc/systemd/system/vlab-firewall.service',
      '/etc/sudoers.d/vlab-alice',
    ])
      expect(await machineFile(path), path).toBeUndefined();
    expect(await machineFile('/etc/machine-id')).toBe('');
    expect(await machineFile('/etc/hostname')).toBe('localhost\n');
    for (const user of users)
      expect(loggedText()).not.toContain(user.password?.reveal() ?? 'no password');
  });

  it('the captured disk boots with host keys of its own, reachable for the next postLoad', async () => {
    await t.harness.labComputer.powerOn();
    const ip = t.harness.labComputer.ip;
    let served: string[] = [];
    for (let i = 0; i < 100 && served.length === 0; i += 1) {
      const scan = await run('ssh-keyscan', ['-T', '2', '-t', 'ed25519', ip]);
      served = scan.stdout.split('\n').filter((l) => l.includes('ssh-ed25519'));
      if (served.length === 0) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const key = served[0]?.split(' ').slice(1, 3).join(' ');
    expect(key).toMatch(/^ssh-ed25519 /);
    expect(hostKeys).not.toContain(key);
    expect((await stamp()).state).toBe('captured');
  });
});
