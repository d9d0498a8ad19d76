import { createHash, randomUUID } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Secret } from '@vlab/core';
import { describe, expect, it } from 'vitest';
import { SNAPSHOT_SKIPPED, type SnapshotFile } from '../src/file-snapshot.js';
import type { GuestAccount } from '../src/guest-accounts.js';
import { useHarnessLab } from './fixtures/harness-lab.js';

const CONTEXT = { phase: 'harness-kit2-test', timeoutMs: 60_000 };

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The lab's pins in the order identity() gives them (ed25519, ecdsa, rsa). */
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

/**
 * What the guest writes by itself while it runs or when an SSH login comes and goes (logs, the
 * service manager's state): the part of the kit's STATE_NOISE a running lab guest touches. A
 * difference anywhere else is the test's doing.
 */
function noise(path: string): boolean {
  return path.startsWith('/var/log/') || path.startsWith('/var/lib/systemd/');
}

/** The paths that differ between two snapshots (added, removed or changed), noise left out. */
function changedPaths(before: readonly SnapshotFile[], after: readonly SnapshotFile[]): string[] {
  const old = new Map(before.map((f) => [f.path, JSON.stringify(f)]));
  const now = new Map(after.map((f) => [f.path, JSON.stringify(f)]));
  const paths = new Set([...old.keys(), ...now.keys()]);
  return [...paths].filter((p) => !noise(p) && old.get(p) !== now.get(p)).sort();
}

// The kit-2 observations of the lab harness: every account with its groups, admin rights and
// password state; every file of the disk; a real password login; the machine's identity; the
// module's dependencies and the secrets in play. Each read from outside the guest, on and off.
describe('the lab harness (kit 2)', () => {
  // Nothing may be left after down: loop devices (identity disks) and snapshot mounts included.
  const setup = useHarnessLab();

  /** Runs a command in the guest as root through the harness's communicator; its stdout. */
  async function guest(argv: readonly string[], stdin?: string): Promise<string> {
    const out = await setup.harness
      .osContext(CONTEXT)
      .communicator.runChecked(argv, stdin === undefined ? {} : { stdin });
    return out.stdout.toString('utf8');
  }

  async function powerOff(): Promise<void> {
    await setup.harness.labComputer.powerOff();
    await setup.harness.labComputer.waitForPower('off');
  }

  async function powerOn(): Promise<void> {
    await setup.harness.labComputer.powerOn();
    await setup.harness.labComputer.waitForSsh();
  }

  /** Resolves once the guest's boot is done (`systemctl is-system-running --wait`). */
  async function settled(): Promise<void> {
    const out = await setup.harness
      .osContext(CONTEXT)
      .communicator.run(['systemctl', 'is-system-running', '--wait']);
    expect(out.stdout.toString('utf8').trim()).toMatch(/^(running|degraded)$/);
  }

  async function accounts(): Promise<Map<string, GuestAccount>> {
    const list = (await setup.harness.accountDetails?.()) ?? [];
    return new Map(list.map((a) => [a.login, a]));
  }

  /** Whether the guest's own sudo grants `login` anything (`sudo -l -U`, as root, on). */
  async function sudoAllows(login: string): Promise<boolean> {
    const out = await guest(['sh', '-c', 'sudo -l -U "$1" || true', 'sudo-l', login]);
    if (/is not allowed to run sudo/.test(out)) return false;
    if (/may run the following commands/.test(out)) return true;
    throw new Error(`sudo -l -U ${login} said neither: ${out}`);
  }

  async function timed<T>(what: string, work: () => Promise<T>): Promise<T> {
    const started = performance.now();
    const result = await work();
    console.log(`${what}: ${Math.round(performance.now() - started)} ms`);
    return result;
  }

  it('records the commands sent through its communicator, and stalls after a count of them', async () => {
    const commands = setup.harness.commands?.bind(setup.harness);
    const stallAfter = setup.harness.stallAfterCommands?.bind(setup.harness);
    if (commands === undefined || stallAfter === undefined)
      throw new Error('the lab harness has no commands or stallAfterCommands');
    await guest(['true']);
    expect(commands().map((c) => c.argv)).toContainEqual(['true']);
    await setup.harness.reset();
    expect(commands()).toEqual([]); // reset starts the record afresh

    const ctx = setup.harness.osContext(CONTEXT);
    await ctx.communicator.runChecked(['sh', '-c', 'cat >/root/kit2-stdin', 'stdin'], {
      stdin: 'from stdin\n',
    });
    await ctx.communicator.put('/root/kit2-put', 'put\n', { mode: 0o600 });
    await ctx.communicator.get('/root/kit2-put'); // SFTP, not a command
    expect(commands()).toEqual([
      { argv: ['sh', '-c', 'cat >/root/kit2-stdin', 'stdin'], stdin: Buffer.from('from stdin\n') },
      { argv: ['put', '/root/kit2-put'], stdin: Buffer.from('put\n') },
    ]);
    expect((await setup.harness.readFile('/root/kit2-stdin'))?.toString()).toBe('from stdin\n');

    // Stalled after one more command: it takes effect, its answer and the next call are held; an
    // abort rejects both with the SSH communicator's cancel error, and the next never runs.
    const resume = await stallAfter(1);
    const controller = new AbortController();
    const signal = controller.signal;
    const first = ctx.communicator.put('/root/kit2-first', 'first\n', { signal });
    const second = ctx.communicator.runChecked(['touch', '/root/kit2-second'], { signal });
    const until = Date.now() + 30_000;
    while (commands().length < 3 && Date.now() < until) await delay(5);
    expect(commands()).toHaveLength(3);
    controller.abort(new Error('cancelled by the test'));
    for (const call of [first, second]) {
      const error = await call.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((error as { code?: string }).code).toBe('VLAB_ERR_OP_CANCELLED');
    }
    await resume();
    expect((await setup.harness.readFile('/root/kit2-first'))?.toString()).toBe('first\n');
    expect(await setup.harness.readFile('/root/kit2-second')).toBeUndefined();
    expect(commands().map((c) => c.argv[0])).toEqual(['sh', 'put', 'put']);
    // Resumed, the machine answers again.
    await ctx.communicator.runChecked(['rm', '-f', '/root/kit2-stdin', '/root/kit2-put']);
    expect(commands()).toHaveLength(4);
  });

  it('reads every account; useradd, usermod -aG sudo, chpasswd and sudoers.d flip admin and hasPassword', async () => {
    await setup.harness.reset();
    const initial = await accounts();
    // System accounts too, in the guest's own terms.
    expect(initial.get('root')).toEqual({
      login: 'root',
      uid: 0,
      groups: ['root'],
      admin: true,
      hasPassword: false, // '*' in the base image's shadow
    });
    expect(initial.get('nobody')).toMatchObject({ uid: 65534, groups: ['nogroup'], admin: false });
    expect(initial.get('daemon')).toMatchObject({ uid: 1, admin: false, hasPassword: false });
    expect(initial.size).toBeGreaterThan(10);
    expect([...initial.values()].filter((a) => a.admin).map((a) => a.login)).toEqual(['root']);

    await guest(['useradd', '-m', '-s', '/bin/bash', 'kit2']);
    const kit2 = (await accounts()).get('kit2');
    expect(kit2).toMatchObject({ groups: ['kit2'], admin: false, hasPassword: false });
    expect(kit2?.uid).toBeGreaterThanOrEqual(1000);
    expect(await sudoAllows('kit2')).toBe(false);

    await guest(['usermod', '-aG', 'sudo', 'kit2']);
    expect((await accounts()).get('kit2')).toMatchObject({
      groups: ['kit2', 'sudo'],
      admin: true,
      hasPassword: false,
    });
    expect(await sudoAllows('kit2')).toBe(true);

    await guest(['chpasswd'], `kit2:pw-${randomUUID()}\n`);
    expect((await accounts()).get('kit2')).toMatchObject({ admin: true, hasPassword: true });
    await guest(['passwd', '-l', 'kit2']); // locked: '!' before the hash
    expect((await accounts()).get('kit2')).toMatchObject({ hasPassword: false });
    await guest(['passwd', '-u', 'kit2']);
    expect((await accounts()).get('kit2')).toMatchObject({ hasPassword: true });

    // Rules in /etc/sudoers.d: for a user, for a group, through a User_Alias; a file whose name
    // has a dot is skipped by sudo, and so here.
    for (const login of ['kit3', 'kit4', 'kit5', 'kit6']) await guest(['useradd', login]);
    await guest(['groupadd', 'kitops']);
    await guest(['usermod', '-aG', 'kitops', 'kit4']);
    const rules: [string, string][] = [
      ['/etc/sudoers.d/x', 'kit3 ALL=(ALL:ALL) NOPASSWD: ALL\n'],
      [
        '/etc/sudoers.d/y',
        'User_Alias KITS = %kitops, \\\n  kit5 # a comment\nKITS ALL = /usr/bin/id\n',
      ],
      ['/etc/sudoers.d/z.disabled', 'kit6 ALL=(ALL) ALL\n'],
    ];
    for (const [path, text] of rules)
      await guest(['install', '-m', '0440', '/dev/stdin', path], text);
    await guest(['visudo', '-c']); // the guest's sudo accepts them
    const granted = await accounts();
    expect(granted.get('kit3')).toMatchObject({ groups: ['kit3'], admin: true });
    expect(granted.get('kit4')).toMatchObject({ groups: ['kit4', 'kitops'], admin: true });
    expect(granted.get('kit5')).toMatchObject({ admin: true });
    expect(granted.get('kit6')).toMatchObject({ admin: false });
    // The guest's own sudo agrees, user by user.
    for (const login of ['kit2', 'kit3', 'kit4', 'kit5', 'kit6', 'daemon'])
      expect([login, await sudoAllows(login)]).toEqual([login, granted.get(login)?.admin]);

    // Off: the same, read with debugfs from the disk file.
    await powerOff();
    const off = await timed('accountDetails off', async () => setup.harness.accountDetails?.());
    expect(off).toEqual([...granted.values()]);
  });

  it('snapshots every file, on and off alike, and sees an added file, a chmod and a chown', async () => {
    await setup.harness.reset();
    // Booted: nothing starts any more that writes to the disk (logind, dbus, their private dirs).
    await settled();
    const cold = await timed('snapshotFiles on (first)', async () =>
      setup.harness.snapshotFiles?.(),
    );
    const on =
      (await timed('snapshotFiles on (cached)', async () => setup.harness.snapshotFiles?.())) ?? [];
    expect(cold).toBeDefined();
    expect(on.length).toBeGreaterThan(5000);
    const byPath = new Map(on.map((f) => [f.path, f]));
    const passwd = (await setup.harness.readFile('/etc/passwd'))?.toString('utf8') ?? '';
    expect(byPath.get('/etc/passwd')).toEqual({
      path: '/etc/passwd',
      sha256: sha256(passwd),
      mode: 0o644,
      owner: 'root',
      group: 'root',
    });
    // A symlink hashes its target's path; a directory is listed with the hash of nothing.
    expect(byPath.get('/bin')).toMatchObject({ sha256: sha256('usr/bin'), mode: 0o777 });
    expect(byPath.get('/etc')).toMatchObject({ sha256: sha256(''), mode: 0o755 });
    expect(byPath.get('/etc/shadow')).toMatchObject({
      mode: 0o640,
      owner: 'root',
      group: 'shadow',
    });
    expect(byPath.get('/tmp')).toMatchObject({ mode: 0o1777 });
    // The documented noise: the skipped directories are listed, their contents are not.
    for (const dir of SNAPSHOT_SKIPPED) {
      expect(byPath.has(dir)).toBe(true);
      expect(on.filter((f) => f.path.startsWith(`${dir}/`))).toEqual([]);
    }
    expect(on.filter((f) => f.path.startsWith('/var/tmp/systemd-private-'))).toEqual([]);
    expect(on.map((f) => f.path)).toEqual([...on.map((f) => f.path)].sort());

    // Off (a hard power cut right after): the same files, read from a copy of the disk file.
    await powerOff();
    const off =
      (await timed('snapshotFiles off', async () => setup.harness.snapshotFiles?.())) ?? [];
    expect(changedPaths(on, off)).toEqual([]);
    expect(off.length).toBe(on.length);
    // An unchanged disk file (its last write over 100 ms old, beyond what the kernel's coarse time
    // stamps could hide) is not copied again: the last snapshot holds.
    const disk = statSync(setup.harness.labComputer.diskPath);
    await delay(Math.max(0, Math.max(disk.mtimeMs, disk.ctimeMs) + 200 - Date.now()));
    const again =
      (await timed('snapshotFiles off (disk unchanged)', async () =>
        setup.harness.snapshotFiles?.(),
      )) ?? [];
    expect(again).toEqual(off);

    await powerOn();
    await settled();
    const base = (await setup.harness.snapshotFiles?.()) ?? [];
    await guest(['sh', '-c', 'printf hello > /etc/kit2-added']);
    const added = (await setup.harness.snapshotFiles?.()) ?? [];
    expect(changedPaths(base, added)).toEqual(['/etc/kit2-added']);
    expect(added.find((f) => f.path === '/etc/kit2-added')).toEqual({
      path: '/etc/kit2-added',
      sha256: sha256('hello'),
      mode: 0o644,
      owner: 'root',
      group: 'root',
    });
    await guest(['chmod', '4600', '/etc/kit2-added']);
    const chmodded = (await setup.harness.snapshotFiles?.()) ?? [];
    expect(changedPaths(added, chmodded)).toEqual(['/etc/kit2-added']);
    expect(chmodded.find((f) => f.path === '/etc/kit2-added')?.mode).toBe(0o4600);
    await guest(['chown', 'daemon:adm', '/etc/kit2-added']);
    const chowned = (await setup.harness.snapshotFiles?.()) ?? [];
    expect(changedPaths(chmodded, chowned)).toEqual(['/etc/kit2-added']);
    expect(chowned.find((f) => f.path === '/etc/kit2-added')).toMatchObject({
      owner: 'daemon',
      group: 'adm',
      sha256: sha256('hello'),
    });
    // Ids the guest has no name for are given as numbers.
    await guest(['chown', '4242:4343', '/etc/kit2-added']);
    const numeric = (await setup.harness.snapshotFiles?.()) ?? [];
    expect(numeric.find((f) => f.path === '/etc/kit2-added')).toMatchObject({
      owner: '4242',
      group: '4343',
    });
    // Content rewritten at the same size: hashed again, not taken from the cache.
    await guest(['sh', '-c', 'printf world > /etc/kit2-added']);
    const rewritten = (await setup.harness.snapshotFiles?.()) ?? [];
    expect(changedPaths(numeric, rewritten)).toEqual(['/etc/kit2-added']);
    expect(rewritten.find((f) => f.path === '/etc/kit2-added')?.sha256).toBe(sha256('world'));
    // A removed file, and the same state seen off.
    await guest(['rm', '/etc/kit2-added']);
    const removed = (await setup.harness.snapshotFiles?.()) ?? [];
    expect(changedPaths(rewritten, removed)).toEqual(['/etc/kit2-added']);
    await powerOff();
    expect(changedPaths(removed, (await setup.harness.snapshotFiles?.()) ?? [])).toEqual([]);
  });

  it('logs in with a password as the user would: right, wrong, none', async () => {
    await setup.harness.reset();
    const [alice, bob] = setup.harness.users();
    if (alice?.password === undefined || bob?.password === undefined)
      throw new Error('the harness users have no passwords');
    await guest(['useradd', '-m', '-s', '/bin/bash', alice.login]);
    await guest(['chpasswd'], `${alice.login}:${alice.password.reveal()}\n`);
    await guest(['useradd', '-m', '-s', '/bin/bash', bob.login]); // no password: '!' in shadow
    const right = await timed('canLogin (right password)', async () =>
      setup.harness.canLogin?.(alice.login, alice.password as Secret),
    );
    expect(right).toBe(true);
    const wrong = await timed('canLogin (wrong password)', async () =>
      setup.harness.canLogin?.(alice.login, new Secret(`not-${randomUUID()}`)),
    );
    expect(wrong).toBe(false);
    expect(await setup.harness.canLogin?.(bob.login, bob.password)).toBe(false);
    expect(await setup.harness.canLogin?.('nosuchuser', alice.password)).toBe(false);
    // A password login from alice's client (client1), as sshd saw it.
    const [client1] = setup.lab.clients;
    const journal = await guest(['journalctl', '--no-pager', '-o', 'cat', '_COMM=sshd']);
    expect(journal).toContain(`Accepted password for ${alice.login} from ${client1?.ip} `);
    expect(journal).toContain(`Failed password for ${alice.login} from ${client1?.ip} `);
    // Nothing answers when off: the login cannot be tried, and says so without the password.
    await powerOff();
    const error = await setup.harness.canLogin?.(alice.login, alice.password).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.message).toMatch(/could not be tried/);
    expect(error?.message).not.toContain(alice.password.reveal());
    for (const secret of setup.harness.secrets())
      expect(JSON.stringify(setup.harness.logs())).not.toContain(secret.reveal());
  });

  it('reads the host keys and machine id on the disk, on and off, and sees them removed', async () => {
    await setup.harness.reset();
    const c1 = setup.harness.labComputer;
    const machineId = readFileSync(join(c1.dir, 'identity/machine-id'), 'utf8').trim();
    const expected = { hostKeys: sortedKeys(c1.hostKeys), machineId };
    expect(await timed('identity on', async () => setup.harness.identity?.())).toEqual(expected);
    await powerOff();
    expect(await timed('identity off', async () => setup.harness.identity?.())).toEqual(expected);
    await powerOn();
    await guest(['rm', '/etc/machine-id']);
    expect(await setup.harness.identity?.()).toEqual({ ...expected, machineId: undefined });
    // One command: sshd reads its host keys at every new connection.
    await guest(['sh', '-c', 'rm /etc/ssh/ssh_host_*; : > /etc/machine-id']);
    expect(await setup.harness.identity?.()).toEqual({ hostKeys: [], machineId: undefined });
    await powerOff();
    expect(await setup.harness.identity?.()).toEqual({ hostKeys: [], machineId: undefined });
  });

  it('gives the module a logger into its log sink, and counts every secret it hands out', async () => {
    const deps = setup.harness.moduleDeps?.();
    if (deps === undefined) throw new Error('the lab harness has no moduleDeps');
    deps.log.info('module created', { note: 'kit2' });
    expect(setup.harness.logs().at(-1)).toMatchObject({
      level: 'info',
      message: 'module created',
      fields: { computer: 'c1', module: 'under-test', note: 'kit2' },
    });
    const values = () => setup.harness.secrets().map((s) => s.reveal());
    // Two user passwords, the BMC password, the management key, the session key.
    expect(values()).toHaveLength(5);
    for (const user of setup.harness.users())
      if (user.password !== undefined) expect(values()).toContain(user.password.reveal());
    const bmc = setup.harness.computer.credentials['bmc'];
    if (bmc === undefined) throw new Error('the computer has no BMC credential');
    expect(values()).toContain((await deps.secrets.resolve(bmc)).reveal());
    expect(values()).toContain(
      (await setup.harness.osContext(CONTEXT).secrets.resolve(bmc)).reveal(),
    );
    expect(values()).toHaveLength(5);
    // A secret the module's config names in a file: in play once the harness's resolver read it.
    const file = join(setup.harness.labComputer.dir, `secret-${randomUUID()}`);
    const value = `file-secret-${randomUUID()}`;
    await writeFile(file, `${value}\n`, { mode: 0o600 });
    try {
      expect((await deps.secrets.resolve({ file })).reveal()).toBe(value);
    } finally {
      await rm(file, { force: true });
    }
    expect(values()).toContain(value);
    expect(values()).toHaveLength(6);
  });
});
