import { isIP } from 'node:net';
import { loginProblem } from '@vlab/core';
import type { Kysely, Selectable } from 'kysely';
import { invalidValueError } from './errors.js';
import { normaliseOpenSshKey, openSshKeyProblem } from './openssh-key.js';
import { type LabDatabase, USER_ROLES, type UserRole, type UsersTable } from './schema.js';

/** Most SSH keys one user may have. @public */
export const MAX_SSH_KEYS = 32;
/** Most `allowFrom` entries one user may have. @public */
export const MAX_ALLOW_FROM = 64;
/** Longest display name, in characters. @public */
export const MAX_DISPLAY_NAME = 200;

/** A user of the lab, as the registry returns it. @public */
export interface LabUser {
  /** The login, also the account name on reserved computers. */
  readonly login: string;
  /** Name shown in lists; `''` when none. */
  readonly displayName: string;
  /** OpenSSH one-line public keys. */
  readonly sshKeys: readonly string[];
  /** `admin` or `user`. */
  readonly role: UserRole;
  /** IP addresses and CIDR prefixes the user may connect from; empty means anywhere. */
  readonly allowFrom: readonly string[];
  /** When the user was added. */
  readonly createdAt: Date;
}

/** What {@link LabUsers.add} needs. @public */
export interface NewUser {
  /** A login as `loginProblem` of `@vlab/core` accepts. */
  readonly login: string;
  /** `admin` or `user`. */
  readonly role: UserRole;
  /** Default `''`. At most 200 characters, no control characters. */
  readonly displayName?: string | undefined;
  /** Default none. OpenSSH one-line public keys, at most 32. */
  readonly sshKeys?: readonly string[] | undefined;
  /** Default none (anywhere). IP addresses or CIDR prefixes, at most 64. */
  readonly allowFrom?: readonly string[] | undefined;
}

/** What {@link LabUsers.update} may change; an absent field stays as it is. @public */
export interface UserChanges {
  /** The new role. */
  readonly role?: UserRole | undefined;
  /** The new display name. */
  readonly displayName?: string | undefined;
  /** The new SSH keys (all of them: the list replaces the old one). */
  readonly sshKeys?: readonly string[] | undefined;
  /** The new `allowFrom` list (replaces the old one). */
  readonly allowFrom?: readonly string[] | undefined;
}

/**
 * The lab's users: whom reservations are made for. Every login is checked with core's one login
 * rule (`loginProblem`), keys as one-line OpenSSH public keys, `allowFrom` as addresses or CIDR
 * prefixes; a refused value writes nothing.
 * @public
 */
export interface LabUsers {
  /** Registers a user; refuses a login that is taken. */
  add(user: NewUser): Promise<LabUser>;
  /** Changes what is given of a registered user. */
  update(login: string, changes: UserChanges): Promise<LabUser>;
  /** The user, or `undefined` when the login is not registered. */
  get(login: string): Promise<LabUser | undefined>;
  /** Every user, by login. */
  list(): Promise<LabUser[]>;
  /** Removes a user; false when it was not registered. Refused while the user owns images. */
  remove(login: string): Promise<boolean>;
}

/**
 * The lab's users, in the database. Every value is checked before anything is written, and each
 * change is one statement, so a refused or failed call leaves the table as it was.
 *
 * @remarks
 * Refusals are `VLAB_ERR_CONFIG_INVALID` errors whose message and `details.field` name the field
 * (`login`, `role`, `displayName`, `sshKeys[2]`, `allowFrom[0]`); a message never repeats a
 * refused value beyond 40 characters, quoted.
 * @public
 */
export class UserRegistry implements LabUsers {
  readonly #db: Kysely<LabDatabase>;

  /** @param db - The manager's database (see `openDatabase`). */
  constructor(db: Kysely<LabDatabase>) {
    this.#db = db;
  }

  /**
   * Adds a user.
   * @throws `VLAB_ERR_CONFIG_INVALID` naming the field that is wrong, or saying the login exists.
   */
  async add(user: NewUser): Promise<LabUser> {
    const login = checkLogin(user?.login);
    const row = {
      login,
      role: checkRole(user.role),
      display_name: checkDisplayName(user.displayName ?? ''),
      ssh_keys: JSON.stringify(checkSshKeys(user.sshKeys ?? [])),
      allow_from: JSON.stringify(checkAllowFrom(user.allowFrom ?? [])),
    };
    const inserted = await this.#db
      .insertInto('users')
      .values(row)
      .onConflict((conflict) => conflict.column('login').doNothing())
      .returningAll()
      .executeTakeFirst();
    if (inserted === undefined) {
      throw invalidValueError('login', `a user with the login "${login}" already exists`, {
        hint: 'Pick another login, or change the existing user with update.',
      });
    }
    return toUser(inserted);
  }

  /**
   * Changes a user's role, display name, SSH keys or `allowFrom`; the login never changes.
   * @throws `VLAB_ERR_CONFIG_INVALID` naming the field that is wrong, or saying there is no such user.
   */
  async update(login: string, changes: UserChanges): Promise<LabUser> {
    const checked = checkLogin(login);
    const set: {
      role?: UserRole;
      display_name?: string;
      ssh_keys?: string;
      allow_from?: string;
    } = {};
    if (changes?.role !== undefined) set.role = checkRole(changes.role);
    if (changes?.displayName !== undefined) {
      set.display_name = checkDisplayName(changes.displayName);
    }
    if (changes?.sshKeys !== undefined) {
      set.ssh_keys = JSON.stringify(checkSshKeys(changes.sshKeys));
    }
    if (changes?.allowFrom !== undefined) {
      set.allow_from = JSON.stringify(checkAllowFrom(changes.allowFrom));
    }
    const updated =
      Object.keys(set).length === 0
        ? await this.#db
            .selectFrom('users')
            .selectAll()
            .where('login', '=', checked)
            .executeTakeFirst()
        : await this.#db
            .updateTable('users')
            .set(set)
            .where('login', '=', checked)
            .returningAll()
            .executeTakeFirst();
    if (updated === undefined) throw noSuchUser(checked);
    return toUser(updated);
  }

  /** The user with this login, or `undefined`. An invalid login is refused, not looked up. */
  async get(login: string): Promise<LabUser | undefined> {
    const row = await this.#db
      .selectFrom('users')
      .selectAll()
      .where('login', '=', checkLogin(login))
      .executeTakeFirst();
    return row === undefined ? undefined : toUser(row);
  }

  /** Every user, by login. */
  async list(): Promise<LabUser[]> {
    const rows = await this.#db.selectFrom('users').selectAll().orderBy('login').execute();
    return rows.map(toUser);
  }

  /**
   * Removes a user. Their past reservations stay as they are.
   * @returns Whether there was such a user.
   * @throws `VLAB_ERR_CONFIG_INVALID` when the user still owns images (nothing is removed).
   */
  async remove(login: string): Promise<boolean> {
    const checked = checkLogin(login);
    try {
      const result = await this.#db
        .deleteFrom('users')
        .where('login', '=', checked)
        .executeTakeFirst();
      return result.numDeletedRows > 0n;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      // 23001 restrict_violation (ON DELETE RESTRICT), 23503 foreign_key_violation.
      if (code === '23001' || code === '23503') {
        throw invalidValueError('login', `the user "${checked}" owns images and was not removed`, {
          cause: error,
          hint: 'Give their images another owner (or none) first, then remove the user.',
        });
      }
      throw error;
    }
  }
}

function noSuchUser(login: string): Error {
  return invalidValueError('login', `there is no user with the login "${login}"`, {
    hint: 'Check the login (list shows every user), or add the user first.',
  });
}

function toUser(row: Selectable<UsersTable>): LabUser {
  return {
    login: row.login,
    displayName: row.display_name,
    sshKeys: row.ssh_keys,
    role: row.role,
    allowFrom: row.allow_from,
    createdAt: row.created_at,
  };
}

/** A value cut to 40 characters and quoted, for a message. */
function shown(value: unknown): string {
  const text = typeof value === 'string' ? value : String(value);
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}

function checkLogin(login: unknown): string {
  if (typeof login !== 'string') throw invalidValueError('login', 'the login is not a string');
  const problem = loginProblem(login);
  if (problem !== undefined) {
    throw invalidValueError('login', problem, {
      hint: 'Use 1 to 32 characters: lower-case letters, digits, "_" and "-", starting with a letter or "_", and not a system account such as root. Nothing was written.',
    });
  }
  return login;
}

function checkRole(role: unknown): UserRole {
  if (!USER_ROLES.includes(role as UserRole)) {
    throw invalidValueError('role', `the role ${shown(role)} is neither "admin" nor "user"`);
  }
  return role as UserRole;
}

function checkDisplayName(name: unknown): string {
  if (typeof name !== 'string') {
    throw invalidValueError('displayName', 'the display name is not a string');
  }
  if (name.length > MAX_DISPLAY_NAME) {
    throw invalidValueError(
      'displayName',
      `the display name is longer than ${MAX_DISPLAY_NAME} characters`,
    );
  }
  if (/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(name)) {
    throw invalidValueError(
      'displayName',
      'the display name contains a control or invisible character',
    );
  }
  return name;
}

function checkList(field: string, value: unknown, max: number): readonly unknown[] {
  if (!Array.isArray(value)) throw invalidValueError(field, `${field} is not a list`);
  if (value.length > max) {
    throw invalidValueError(
      field,
      `${field} has ${value.length} entries; at most ${max} are allowed`,
    );
  }
  return value;
}

function checkSshKeys(keys: unknown): string[] {
  return checkList('sshKeys', keys, MAX_SSH_KEYS).map((key, index) => {
    const problem = openSshKeyProblem(key);
    if (problem !== undefined) {
      throw invalidValueError(
        `sshKeys[${index}]`,
        `sshKeys[${index}] is not an OpenSSH public key line ("type base64 [comment]"): it ${problem}`,
        { hint: 'Paste the one line of the user’s .pub file (e.g. ~/.ssh/id_ed25519.pub).' },
      );
    }
    return normaliseOpenSshKey(key as string);
  });
}

function checkAllowFrom(entries: unknown): string[] {
  return checkList('allowFrom', entries, MAX_ALLOW_FROM).map((entry, index) => {
    const problem = addressProblem(entry);
    if (problem !== undefined) {
      throw invalidValueError(
        `allowFrom[${index}]`,
        `allowFrom[${index}] (${shown(entry)}) ${problem}`,
        {
          hint: 'Write an IPv4 or IPv6 address (192.0.2.7, 2001:db8::7) or a CIDR prefix (192.0.2.0/24, 2001:db8::/32).',
        },
      );
    }
    return entry as string;
  });
}

/** What is wrong with `entry` as an IP address or CIDR prefix, or `undefined`. */
function addressProblem(entry: unknown): string | undefined {
  if (typeof entry !== 'string') return 'is not a string';
  const slash = entry.indexOf('/');
  const address = slash === -1 ? entry : entry.slice(0, slash);
  const version = address.includes('%') ? 0 : isIP(address);
  if (version === 0) return 'is not an IP address or a CIDR prefix';
  if (slash === -1) return undefined;
  const prefix = entry.slice(slash + 1);
  const max = version === 4 ? 32 : 128;
  if (!/^(0|[1-9][0-9]{0,2})$/.test(prefix) || Number(prefix) > max) {
    return `has a prefix length that is not a whole number from 0 to ${max}`;
  }
  return undefined;
}
