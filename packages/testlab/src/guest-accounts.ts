import type { ConformanceHarness } from '@vlab/core/testing';
import type { GuestFiles } from './guest-root.js';
import { readSudoers, sudoersNames } from './sudoers.js';

/**
 * A guest's accounts as the conformance kit compares them, read from its files: `/etc/passwd`
 * (every account, system ones included), `/etc/group` (memberships: the primary group by id, the
 * others by member list), `/etc/shadow` (password state) and the sudoers policy (`sudoers.ts`).
 */

/** One account as the kit compares it (`HarnessAccount` of `@vlab/core/testing`). */
export type GuestAccount = Awaited<
  ReturnType<NonNullable<ConformanceHarness['accountDetails']>>
>[number];

/** The groups whose members have administrator rights through sudo on Debian, Ubuntu, RHEL. */
export const ADMIN_GROUPS: readonly string[] = ['sudo', 'admin', 'wheel'];

/** A line of /etc/passwd. */
export interface PasswdEntry {
  readonly login: string;
  readonly password: string;
  readonly uid: number;
  readonly gid: number;
}

/** A line of /etc/group. */
export interface GroupEntry {
  readonly name: string;
  readonly gid: number;
  readonly members: readonly string[];
}

/** The colon-separated records of a passwd-style file (no NIS `+`/`-` lines, no comments). */
function records(text: string | undefined, minimumFields: number): string[][] {
  return (text ?? '')
    .split('\n')
    .filter((line) => line !== '' && !/^[+-]/.test(line) && !line.startsWith('#'))
    .map((line) => line.split(':'))
    .filter((fields) => fields.length >= minimumFields);
}

/** `/etc/passwd`'s entries, in file order; lines without a numeric uid and gid are left out. */
export function parsePasswd(text: string | undefined): PasswdEntry[] {
  return records(text, 7)
    .map(([login = '', password = '', uid = '', gid = '']) => ({
      login,
      password,
      uid: /^\d+$/.test(uid) ? Number(uid) : Number.NaN,
      gid: /^\d+$/.test(gid) ? Number(gid) : Number.NaN,
    }))
    .filter((e) => e.login !== '' && Number.isInteger(e.uid) && Number.isInteger(e.gid));
}

/** `/etc/group`'s entries, in file order. */
export function parseGroup(text: string | undefined): GroupEntry[] {
  return records(text, 4)
    .map(([name = '', , gid = '', members = '']) => ({
      name,
      gid: /^\d+$/.test(gid) ? Number(gid) : Number.NaN,
      members: members.split(',').filter((m) => m !== ''),
    }))
    .filter((e) => e.name !== '' && Number.isInteger(e.gid));
}

/** `/etc/shadow`'s password field per login (the first line of a login wins). */
export function parseShadow(text: string | undefined): Map<string, string> {
  const fields = new Map<string, string>();
  for (const [login = '', password = ''] of records(text, 2))
    if (!fields.has(login)) fields.set(login, password);
  return fields;
}

/** Whether a password field holds a usable password: not empty, not locked (`!…`) or disabled (`*…`). */
export function usablePassword(field: string | undefined): boolean {
  return field !== undefined && field !== '' && !field.startsWith('!') && !field.startsWith('*');
}

/**
 * Every account of the guest whose files `files` reads, in /etc/passwd's order: its groups (the
 * primary one by name, or its numeric id when the guest's /etc/group has no such group, and every
 * group listing it as a member; sorted), admin rights (uid 0, a member of `sudo`, `admin` or
 * `wheel`, or named by a sudoers rule) and password state (the shadow field, or passwd's own
 * field when shadow has no line for it and it is not `x`).
 */
export async function readAccounts(files: GuestFiles): Promise<GuestAccount[]> {
  const [passwd, group, shadow] = await Promise.all(
    ['/etc/passwd', '/etc/group', '/etc/shadow'].map(async (p) =>
      (await files.read(p))?.toString('utf8'),
    ),
  );
  const groups = parseGroup(group);
  const passwords = parseShadow(shadow);
  const policy = await readSudoers(files);
  return parsePasswd(passwd).map((entry) => {
    const primary = groups.find((g) => g.gid === entry.gid);
    const member = groups.filter((g) => g.members.includes(entry.login));
    const names = [
      ...new Set([primary?.name ?? String(entry.gid), ...member.map((g) => g.name)]),
    ].sort();
    const gids = [entry.gid, ...member.map((g) => g.gid)];
    const field =
      passwords.get(entry.login) ?? (entry.password === 'x' ? undefined : entry.password);
    const admin =
      entry.uid === 0 ||
      names.some((name) => ADMIN_GROUPS.includes(name)) ||
      sudoersNames(policy, { login: entry.login, uid: entry.uid, groups: names, gids });
    return {
      login: entry.login,
      uid: entry.uid,
      groups: names,
      admin,
      hasPassword: usablePassword(field),
    };
  });
}
