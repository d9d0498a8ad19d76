import { chmod, chown, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { run, runChecked } from './run.js';

/** The dedicated local account that tests log in as over SSH. */
export interface TestAccount {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

/** The account tests log in as unless they ask for another. */
export const DEFAULT_TEST_USER = 'vlab-test';

async function lookup(name: string): Promise<TestAccount | undefined> {
  const out = await run('getent', ['passwd', name]);
  if (out.code !== 0) return undefined;
  const fields = out.stdout.trim().split(':');
  return {
    name,
    uid: Number(fields[2]),
    gid: Number(fields[3]),
    home: fields[5] ?? `/home/${name}`,
  };
}

/**
 * Makes sure the test account exists, idempotently: shell `/bin/sh`, a home with an empty
 * `.profile` (so a shell starts in milliseconds), a password field that OpenSSH does not treat as
 * locked (`*`: no password works, keys do), and `/run/sshd` (sshd's privilege-separation dir).
 * Needs root. Safe to call from several test files at once.
 */
export async function ensureTestAccount(name: string = DEFAULT_TEST_USER): Promise<TestAccount> {
  if (process.getuid?.() !== 0) {
    throw new Error(
      `creating the test account "${name}" and running sshd need root; this process runs as uid ${process.getuid?.()}`,
    );
  }
  if (!/^[a-z_][a-z0-9_-]{0,30}$/.test(name)) throw new Error(`bad test account name "${name}"`);
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });

  let account = await lookup(name);
  if (account === undefined) {
    const out = await run('useradd', [
      '--shell',
      '/bin/sh',
      '--home-dir',
      `/home/${name}`,
      '--no-create-home',
      '--user-group',
      '--comment',
      'vlab test account',
      name,
    ]);
    account = await lookup(name);
    // Exit 9 is "already exists": another test file created it at the same moment.
    if (account === undefined) {
      throw new Error(`useradd ${name} failed (exit ${out.code}): ${out.stderr.trim()}`);
    }
  }

  const shell = (await runChecked('getent', ['passwd', name])).stdout.trim().split(':')[6];
  if (shell !== '/bin/sh') await runChecked('usermod', ['--shell', '/bin/sh', name]);

  await mkdir(account.home, { recursive: true, mode: 0o755 });
  const homeStat = await stat(account.home);
  if (homeStat.uid !== account.uid) await chown(account.home, account.uid, account.gid);
  const profile = `${account.home}/.profile`;
  const current = await readFile(profile, 'utf8').catch(() => undefined);
  if (current !== '') {
    await writeFile(profile, '');
    await chown(profile, account.uid, account.gid);
    await chmod(profile, 0o644);
  }

  // useradd leaves "!" (locked); with UsePAM no, sshd refuses locked accounts even for keys.
  const shadow = await readFile('/etc/shadow', 'utf8');
  const entry = shadow.split('\n').find((line) => line.startsWith(`${name}:`));
  const hash = entry?.split(':')[1] ?? '';
  if (hash.startsWith('!') || hash === '') await runChecked('usermod', ['-p', '*', name]);
  return account;
}

/** Sets the account's password (for password-auth tests). */
export async function setTestPassword(name: string, password: string): Promise<void> {
  await runChecked('chpasswd', [], { input: `${name}:${password}\n` });
}

/** Removes the account's password again: only keys log in. */
export async function clearTestPassword(name: string): Promise<void> {
  await runChecked('usermod', ['-p', '*', name]);
}
