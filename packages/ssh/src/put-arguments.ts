import { coreError, type PutOptions, type VlabError } from '@vlab/core';
import { remotePathError } from './sftp.js';
import { computerOf, describeTarget, type SshTarget } from './target.js';

/** A login or group name as useradd and groupadd accept them (a trailing `$`: Samba machines). */
const ACCOUNT_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$/;
const NUMERIC_ID = /^[0-9]{1,10}$/;
/** `(uid_t)-1` tells chown(2) "leave unchanged", so it is no id. */
const MAX_ID = 0xffff_fffe;

/** Why `value` is no owner or group for chown, or undefined when it is one. */
function accountProblem(value: unknown): string | undefined {
  if (typeof value !== 'string')
    return `is ${value === null ? 'null' : typeof value}, not a string`;
  if (NUMERIC_ID.test(value)) {
    return Number(value) <= MAX_ID ? undefined : `${value} is beyond the largest id (${MAX_ID})`;
  }
  if (ACCOUNT_NAME.test(value)) return undefined;
  const shown = JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return `${shown} is neither a login name ([A-Za-z_][A-Za-z0-9_.-]*, at most 32 characters) nor a numeric id`;
}

/** Why `path` names no file to write, or undefined: `put` needs an absolute path to a file. */
function fileProblem(path: string): string | undefined {
  if (!path.startsWith('/')) return `${JSON.stringify(path)} is not absolute`;
  const name = path.slice(path.lastIndexOf('/') + 1);
  if (name === '' || name === '.' || name === '..') {
    return `${JSON.stringify(path)} names a directory, not a file`;
  }
  return undefined;
}

/**
 * `VLAB_ERR_ARGUMENT_INVALID` for arguments of `put` that cannot be carried out as asked, or
 * undefined: a path SFTP or a command cannot carry unchanged, or that is not an absolute path to
 * a file; a mode that is not an integer from 0 to 0o7777; an owner or group that is neither a
 * login name nor a numeric id (they reach chown as arguments, so anything else is refused before
 * anything runs).
 * @internal
 */
export function putArgumentsError(
  target: SshTarget,
  path: string,
  options: PutOptions,
): VlabError | undefined {
  const invalid = remotePathError(target, 'put', path);
  if (invalid !== undefined) return invalid;
  const refuse = (summary: string, details: Record<string, unknown>, hint: string): VlabError =>
    coreError('VLAB_ERR_ARGUMENT_INVALID', `${summary} (put on ${describeTarget(target)})`, {
      computer: computerOf(target),
      details,
      hint,
    });
  const notFile = fileProblem(path);
  if (notFile !== undefined) {
    return refuse(
      `the path to put ${notFile}`,
      { argument: 'path' },
      'Give the absolute path of the file to write.',
    );
  }
  if (
    target.shell === 'powershell' &&
    (options.sudo === true || options.owner !== undefined || options.group !== undefined)
  ) {
    return refuse(
      'sudo, owner and group are POSIX; a PowerShell target has none of them',
      {
        argument: options.sudo === true ? 'sudo' : options.owner !== undefined ? 'owner' : 'group',
      },
      'Log in to the Windows computer as an administrator and put the file without sudo, owner or group; set its ACL with a command.',
    );
  }
  const mode = options.mode;
  if (mode !== undefined && !(Number.isInteger(mode) && mode >= 0 && mode <= 0o7777)) {
    return refuse(
      `the mode ${String(mode)} is not a file mode from 0 to 0o7777`,
      { argument: 'mode' },
      'Give the mode as a number, e.g. 0o640.',
    );
  }
  for (const argument of ['owner', 'group'] as const) {
    const value = options[argument];
    const problem = value === undefined ? undefined : accountProblem(value);
    if (problem !== undefined) {
      return refuse(
        `the ${argument} ${problem}`,
        { argument },
        `Give the ${argument} as a name (as in /etc/${argument === 'owner' ? 'passwd' : 'group'}) or a numeric id as a string.`,
      );
    }
  }
  return undefined;
}
