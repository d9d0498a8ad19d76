import { coreError, type ReservationUser, sleep } from '@vlab/core';
import type { Guest } from './guest.js';
import { generatePassword } from './password.js';
import { GUEST_PATHS } from './paths.js';

/** A local account: name and SID. */
export interface LocalAccount {
  readonly name: string;
  readonly sid: string;
}

/** The guest's local accounts, by lower-case name (Windows compares names case-insensitively). */
export async function readAccounts(guest: Guest): Promise<ReadonlyMap<string, LocalAccount>> {
  const list = await guest.json('listUsers');
  const accounts = new Map<string, LocalAccount>();
  for (const entry of Array.isArray(list) ? list : []) {
    const { name, sid } = (entry ?? {}) as { name?: unknown; sid?: unknown };
    if (typeof name === 'string')
      accounts.set(name.toLowerCase(), { name, sid: String(sid ?? '') });
  }
  return accounts;
}

/**
 * Refuses users whose account exists but was not created by a vlab reservation: `sanitize` would
 * otherwise remove an account of the image.
 */
export function assertAccountsFree(
  users: readonly ReservationUser[],
  accounts: ReadonlyMap<string, LocalAccount>,
  ours: ReadonlySet<string>,
  computer: string,
): void {
  for (const user of users) {
    if (accounts.has(user.login.toLowerCase()) && !ours.has(user.login)) {
      throw coreError(
        'VLAB_ERR_CONFIG_INVALID',
        `the account "${user.login}" already exists on the machine and was not created for a reservation`,
        { computer, hint: 'Pick another login, or remove the account from the image.' },
      );
    }
  }
}

/** A user's key file: root-of-ssh owned, one per login, named by sshd_config's `AuthorizedKeysFile`. */
export function userKeysPath(login: string): string {
  return `${GUEST_PATHS.userKeysDir}\\${login}`;
}

/**
 * Creates or updates one account: its password on stdin (a key-only user gets a random one that
 * is never revealed, so no account has a blank password), its full name stored literally, Remote
 * Desktop Users, Administrators only when admin, and its SSH keys. Returns the account's SID.
 */
export async function applyAccount(guest: Guest, user: ReservationUser): Promise<string> {
  const password = user.password ?? generatePassword(`key-only password of ${user.login}`);
  const sid = (
    await guest.runChecked('applyUser', [user.login], {
      stdin: { password: password.reveal(), fullName: user.fullName ?? '', admin: user.admin },
    })
  ).trim();
  const keys = user.sshKeys.map((key) => `${key.trim()}\r\n`).join('');
  if (keys === '') await guest.remove(userKeysPath(user.login));
  else if (await guest.writeFile(userKeysPath(user.login), keys))
    await guest.runChecked('protectFile', [userKeysPath(user.login)]);
  return sid;
}

/** The WTS session ids of `login` in quser's table (the header and other users skipped). */
export function sessionIds(quserOutput: string, login: string): number[] {
  const ids: number[] = [];
  for (const line of quserOutput.split(/\r?\n/).slice(1)) {
    // " USERNAME  SESSIONNAME  ID  STATE ...": the session name is empty for a disconnected
    // session, so the id is the first all-digit column after the name (headers are localized).
    const [name = '', ...rest] = line.replace(/^[ >]/, '').trim().split(/\s+/);
    if (name.toLowerCase() !== login.toLowerCase()) continue;
    const id = rest.slice(0, 2).find((column) => /^\d+$/.test(column));
    if (id !== undefined) ids.push(Number(id));
  }
  return ids;
}

/**
 * Logs the user off, ends its processes and removes the account, its profile (folder and
 * registry, through Win32_UserProfile) and its key file. Idempotent: a missing account is fine.
 * A profile still loaded right after the logoff is retried for a while.
 */
export async function removeAccount(
  guest: Guest,
  login: string,
  sid: string | undefined,
): Promise<void> {
  const sessions = await guest.run('userSessions', [login]);
  for (const id of sessionIds(sessions.stdout.toString('utf8'), login)) {
    await guest.run('logoffSession', [String(id)]);
  }
  for (let attempt = 1; ; attempt += 1) {
    const result = await guest.run('removeUser', [login, sid ?? '']);
    if (result.code === 0) break;
    if (attempt === 10) {
      throw coreError(
        'VLAB_ERR_COMMAND_FAILED',
        `could not remove the account "${login}" and its profile`,
        {
          computer: guest.computer,
          details: {
            program: 'removeUser',
            exitCode: result.code,
            stderrTail: result.stderr.toString('utf8').slice(-2048),
          },
        },
      );
    }
    await sleep(1000, guest.ctx.signal, guest.computer);
  }
  await guest.remove(userKeysPath(login));
}
