import { posix } from 'node:path';
import type { GuestFiles } from './guest-root.js';

/**
 * Who a guest's sudoers policy names, read from its files (no `sudo -l`: the machine may be off,
 * and its own sudo is what is under test).
 *
 * What is read: `/etc/sudoers` and, recursively, every file it includes (`@include`/`#include`,
 * relative paths from the including file's directory) and every file of a directory it includes
 * (`@includedir`/`#includedir`, in lexical order, skipping names that end in `~` or contain a `.`,
 * as sudo does). Lines continue after a trailing backslash; `#` starts a comment unless it
 * introduces an include or a numeric id (`#1000`). `Defaults` lines and `Host_Alias`,
 * `Runas_Alias` and `Cmnd_Alias` definitions are ignored; `User_Alias` definitions are expanded.
 * A user specification (`user-list host-list = …`) names an account when its user list matches:
 * the login, `#uid`, `%group` or `%#gid` of one of its groups, a `User_Alias` that does, or `ALL`,
 * with `!` negating an item and the last matching item deciding, as in sudo. What the rule allows
 * (hosts, run-as users, commands, tags) is not weighed: any rule that names the account counts.
 * Not read: LDAP or SSSD sudoers, netgroups (`+name`), non-Unix groups (`%:name`), file modes.
 */

/** The account a sudoers user list is matched against. */
export interface SudoersAccount {
  readonly login: string;
  readonly uid: number;
  /** Its group names, its own included. */
  readonly groups: readonly string[];
  /** Its group ids, its own included. */
  readonly gids: readonly number[];
}

/** A parsed sudoers policy: its user aliases and the user lists of its user specifications. */
export interface SudoersPolicy {
  readonly userAliases: ReadonlyMap<string, readonly string[]>;
  readonly userLists: readonly (readonly string[])[];
}

const MAX_INCLUDE_DEPTH = 16;

/** Lines of `text` with backslash continuations joined. */
function logicalLines(text: string): string[] {
  const lines: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    const trailing = /\\+$/.exec(line)?.[0].length ?? 0;
    if (trailing % 2 === 1) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    lines.push(pending + line);
    pending = '';
  }
  if (pending !== '') lines.push(pending);
  return lines;
}

/** `line` without its comment: a `#` outside quotes that does not start a numeric id. */
function stripComment(line: string): string {
  let quoted = false;
  for (let i = 0; i < line.length; i += 1) {
    const c = line[i];
    if (c === '\\') {
      i += 1;
    } else if (c === '"') {
      quoted = !quoted;
    } else if (c === '#' && !quoted && !/[0-9]/.test(line[i + 1] ?? '')) {
      return line.slice(0, i);
    }
  }
  return line;
}

/** `word` without surrounding double quotes and backslash escapes. */
function unquote(word: string): string {
  const inner =
    word.startsWith('"') && word.endsWith('"') && word.length >= 2 ? word.slice(1, -1) : word;
  return inner.replace(/\\(.)/g, '$1');
}

/** Splits `text` at `separator` characters outside quotes and escapes. */
function splitOutside(text: string, separator: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i] ?? '';
    if (c === '\\' && i + 1 < text.length) {
      current += c + (text[i + 1] ?? '');
      i += 1;
    } else if (c === '"') {
      quoted = !quoted;
      current += c;
    } else if (c === separator && !quoted) {
      parts.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  parts.push(current);
  return parts;
}

/**
 * The user list at the start of a user specification (`alice, %staff ALL = …`) and whether the
 * rest looks like one (`host-list = …`); `undefined` for anything else.
 */
function userList(line: string): string[] | undefined {
  const items: string[] = [];
  let i = 0;
  const skipSpace = () => {
    while (i < line.length && /\s/.test(line[i] ?? '')) i += 1;
  };
  for (;;) {
    skipSpace();
    let item = '';
    let quoted = false;
    while (i < line.length) {
      const c = line[i] ?? '';
      if (c === '\\' && i + 1 < line.length) {
        item += c + (line[i + 1] ?? '');
        i += 2;
        continue;
      }
      if (c === '"') quoted = !quoted;
      else if (!quoted && (c === ',' || /\s/.test(c) || c === '=')) break;
      item += c;
      i += 1;
    }
    if (item === '') return undefined;
    items.push(unquote(item));
    skipSpace();
    if (line[i] === ',') {
      i += 1;
      continue;
    }
    break;
  }
  const rest = line.slice(i);
  return /^[^=]+=/.test(rest) ? items : undefined;
}

/**
 * Reads the sudoers policy of a guest (see the file's comment for what is parsed), starting at
 * `/etc/sudoers`; an empty policy when the guest has none.
 */
export async function readSudoers(files: GuestFiles): Promise<SudoersPolicy> {
  const userAliases = new Map<string, string[]>();
  const userLists: string[][] = [];
  const seen = new Set<string>();

  const includeDir = async (dir: string, depth: number): Promise<void> => {
    for (const name of (await files.list(dir)) ?? []) {
      if (name.endsWith('~') || name.includes('.')) continue;
      await readFile(posix.join(dir, name), depth + 1);
    }
  };
  const readFile = async (path: string, depth: number): Promise<void> => {
    if (depth > MAX_INCLUDE_DEPTH || seen.has(path)) return;
    seen.add(path);
    const text = (await files.read(path))?.toString('utf8');
    if (text === undefined) return;
    for (const raw of logicalLines(text)) {
      const include = /^\s*[@#]include(dir)?\s+(.+?)\s*$/.exec(raw);
      if (include !== null) {
        const target = unquote(include[2] ?? '');
        const resolved = posix.resolve(posix.dirname(path), target);
        if (include[1] === 'dir') await includeDir(resolved, depth);
        else await readFile(resolved, depth + 1);
        continue;
      }
      const line = stripComment(raw).trim();
      if (line === '' || /^Defaults([:@>!\s]|$)/.test(line)) continue;
      const alias = /^(User_Alias|Runas_Alias|Host_Alias|Cmnd_Alias|Cmd_Alias)\s+(.*)$/.exec(line);
      if (alias !== null) {
        if (alias[1] !== 'User_Alias') continue;
        for (const definition of splitOutside(alias[2] ?? '', ':')) {
          const [name = '', ...members] = splitOutside(definition, '=');
          const list = splitOutside(members.join('='), ',')
            .map((m) => unquote(m.trim()))
            .filter((m) => m !== '');
          if (name.trim() !== '') userAliases.set(name.trim(), list);
        }
        continue;
      }
      const users = userList(line);
      if (users !== undefined) userLists.push(users);
    }
  };
  await readFile('/etc/sudoers', 0);
  return { userAliases, userLists };
}

/** Whether one item of a user list (without its `!`) names `account`. */
function itemMatches(
  item: string,
  account: SudoersAccount,
  policy: SudoersPolicy,
  expanding: ReadonlySet<string>,
): boolean {
  if (item === 'ALL') return true;
  const gid = /^%#(\d+)$/.exec(item);
  if (gid !== null) return account.gids.includes(Number(gid[1]));
  if (item.startsWith('%:') || item.startsWith('+')) return false;
  if (item.startsWith('%')) return account.groups.includes(item.slice(1));
  const uid = /^#(\d+)$/.exec(item);
  if (uid !== null) return account.uid === Number(uid[1]);
  const alias = policy.userAliases.get(item);
  if (alias !== undefined && /^[A-Z][A-Z0-9_]*$/.test(item)) {
    if (expanding.has(item)) return false;
    return listMatches(alias, account, policy, new Set([...expanding, item]));
  }
  return item === account.login;
}

/** sudo's rule for a list: the last item that matches decides, `!` negating it. */
function listMatches(
  list: readonly string[],
  account: SudoersAccount,
  policy: SudoersPolicy,
  expanding: ReadonlySet<string> = new Set(),
): boolean {
  let result = false;
  for (const raw of list) {
    let item = raw;
    let negated = false;
    while (item.startsWith('!')) {
      negated = !negated;
      item = item.slice(1).trimStart();
    }
    if (itemMatches(item, account, policy, expanding)) result = !negated;
  }
  return result;
}

/** Whether a user specification of `policy` names `account`. */
export function sudoersNames(policy: SudoersPolicy, account: SudoersAccount): boolean {
  return policy.userLists.some((list) => listMatches(list, account, policy));
}
