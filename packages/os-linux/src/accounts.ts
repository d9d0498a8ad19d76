import { coreError, type ReservationUser, sleep } from '@vlab/core';
import type { Guest } from './guest.js';
import { GUEST_PATHS } from './paths.js';

/** The guest's accounts, login → uid, from `getent passwd` (local files and any directory). */
export async function readAccounts(guest: Guest): Promise<ReadonlyMap<string, number>> {
  const out = await guest.runChecked(['getent', 'passwd']);
  const accounts = new Map<string, number>();
  for (const line of out.split('\n')) {
    const [login, , uid] = line.split(':');
    if (login !== undefined && login !== '' && uid !== undefined) accounts.set(login, Number(uid));
  }
  return accounts;
}

/**
 * Refuses users whose login exists but was not created by a vlab reservation, and uids that
 * belong to another account: `sanitize` would otherwise remove an account of the image.
 */
export function assertAccountsFree(
  users: readonly ReservationUser[],
  accounts: ReadonlyMap<string, number>,
  ours: ReadonlySet<string>,
  computer: string,
): void {
  for (const user of users) {
    if (accounts.has(user.login) && !ours.has(user.login)) {
      throw coreError(
        'VLAB_ERR_CONFIG_INVALID',
        `the account "${user.login}" already exists on the machine and was not created for a reservation`,
        { computer, hint: 'Pick another login, or remove the account from the image.' },
      );
    }
    if (user.uid === undefined) continue;
    for (const [login, uid] of accounts) {
      if (uid === user.uid && login !== user.login) {
        throw coreError(
          'VLAB_ERR_CONFIG_INVALID',
          `the uid ${user.uid} asked for "${user.login}" belongs to the account "${login}"`,
          { computer, hint: 'Give the user another uid, or none.' },
        );
      }
    }
    const existing = accounts.get(user.login);
    if (existing !== undefined && existing !== user.uid) {
      throw coreError(
        'VLAB_ERR_CONFIG_INVALID',
        `the account "${user.login}" exists with uid ${existing}, not ${user.uid}`,
        { computer, hint: 'Run sanitize first, or keep the uid of the earlier reserve.' },
      );
    }
  }
}

/**
 * Creates or updates one account: the account (its description stored literally), its password
 * (through stdin) or a key-only login, its keys in a root-owned file, and sudo if granted.
 */
export async function applyAccount(
  guest: Guest,
  user: ReservationUser,
  exists: boolean,
): Promise<void> {
  const comment = user.fullName === undefined ? [] : ['--comment', user.fullName];
  if (!exists) {
    const uid = user.uid === undefined ? [] : ['--uid', String(user.uid)];
    await guest.runChecked([
      'useradd',
      '--create-home',
      '--user-group',
      '--shell',
      '/bin/bash',
      ...uid,
      ...comment,
      '--',
      user.login,
    ]);
  } else if (comment.length > 0) {
    await guest.runChecked(['usermod', ...comment, '--', user.login]);
  }
  if (user.password === undefined) {
    // "*": no password can match, but the account is not locked, so keys still log in.
    await guest.runChecked(['usermod', '--password', '*', '--', user.login]);
  } else {
    await guest.runChecked(['chpasswd'], { stdin: `${user.login}:${user.password.reveal()}\n` });
  }
  await guest.writeFile(
    `${GUEST_PATHS.authorizedKeysDir}/${user.login}`,
    user.sshKeys.map((key) => `${key.trim()}\n`).join(''),
    // Root's, not the user's: a file the user could write would let them add keys.
    { mode: 0o644 },
  );
  const sudoers = `${GUEST_PATHS.sudoersDir}/vlab-${user.login}`;
  if (!user.admin) {
    await guest.remove(sudoers);
    return;
  }
  // Without a password sudo could never ask for one: key-only admins get NOPASSWD.
  const rule = user.password === undefined ? 'NOPASSWD: ALL' : 'ALL';
  await guest.writeFile(
    sudoers,
    `# Written by vlab os-linux for a reservation.\n${user.login} ALL=(ALL:ALL) ${rule}\n`,
    { mode: 0o440 },
  );
  const check = await guest.run(['visudo', '-c', '-f', sudoers]);
  if (check.code !== 0) {
    await guest.remove(sudoers);
    throw coreError('VLAB_ERR_COMMAND_FAILED', `visudo refused the sudo rule of "${user.login}"`, {
      computer: guest.computer,
      details: { stderrTail: check.stderr.toString('utf8').slice(-2048) },
    });
  }
}

/**
 * Ends an account's processes and removes it with its home, mail, group, keys and sudo rule;
 * files it left in /tmp, /var/tmp and /dev/shm go too. Idempotent: a missing account is fine.
 */
export async function removeAccount(
  guest: Guest,
  login: string,
  uid: number | undefined,
): Promise<void> {
  if (uid !== undefined) {
    await guest.script(
      'remove-user-files',
      'for d in /tmp /var/tmp /dev/shm; do [ -d "$d" ] && find "$d" -xdev -mindepth 1 -uid "$1" -delete 2>/dev/null; done; exit 0',
      [String(uid)],
    );
  }
  for (let attempt = 1; ; attempt += 1) {
    // SIGKILL ends sessions too: each session's sshd child runs as the user.
    await guest.run(['pkill', '-KILL', '-u', login]);
    const removed = await guest.run(['userdel', '--remove', '--', login]);
    // 6: no such user (already gone); 12: the home was already gone.
    if (removed.code === 0 || removed.code === 6 || removed.code === 12) break;
    // 8: still logged in: a process started between pkill and userdel.
    if (removed.code !== 8 || attempt === 10) {
      throw coreError(
        'VLAB_ERR_COMMAND_FAILED',
        `userdel could not remove "${login}" (exit ${removed.code})`,
        {
          computer: guest.computer,
          details: {
            program: 'userdel',
            exitCode: removed.code,
            stderrTail: removed.stderr.toString('utf8').slice(-2048),
          },
        },
      );
    }
    await sleep(200, guest.ctx.signal, guest.computer);
  }
  await guest.remove(
    `${GUEST_PATHS.authorizedKeysDir}/${login}`,
    `${GUEST_PATHS.sudoersDir}/vlab-${login}`,
  );
}
