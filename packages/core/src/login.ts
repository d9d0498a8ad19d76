/**
 * Login names a lab can hand out, as `useradd` accepts them without `--badname`: 1 to 32
 * characters, lower-case letters, digits, `_` and `-`, starting with a letter or `_`.
 * @public
 */
export const LOGIN_PATTERN: RegExp = /^[a-z_][a-z0-9_-]{0,31}$/;

/**
 * Logins no reservation may use, whatever the OS: system accounts modules never create or remove.
 * @public
 */
export const RESERVED_LOGINS: ReadonlySet<string> = new Set([
  'root',
  'daemon',
  'bin',
  'sys',
  'nobody',
  'sshd',
  'vlab',
]);

/** How to write a login {@link loginProblem} accepts. @public */
export const LOGIN_HINT =
  'Use 1 to 32 characters: lower-case letters, digits, "_" and "-", starting with a letter or "_".';

/**
 * What is wrong with `login` as a lab user's login, or `undefined` when it is fine. One rule for
 * the manager's user registry and the OS modules that create the accounts, so a login the
 * registry accepts is one every module can hold literally (never quoted into shape).
 * @returns A sentence naming the login (quoted and cut to 40 characters), or `undefined`.
 * @public
 */
export function loginProblem(login: string): string | undefined {
  if (!LOGIN_PATTERN.test(login)) {
    const shown = JSON.stringify(login.length > 40 ? `${login.slice(0, 40)}…` : login);
    return `the login ${shown} is not a valid user name`;
  }
  if (RESERVED_LOGINS.has(login)) return `the login "${login}" is reserved for the system`;
  return undefined;
}
