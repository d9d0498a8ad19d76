import {
  coreError,
  LOGIN_HINT,
  loginProblem,
  NETWORK_HINT,
  type Network,
  parseNetwork,
  type ReservationUser,
  SSH_PUBLIC_KEY_HINT,
  sshPublicKeyProblem,
} from '@vlab/core';

// Everything a reservation or the config hands the module is checked here, before anything on
// the machine changes. What Windows cannot hold literally is refused, never quoted into shape.

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
/** Characters Windows refuses in an account name (`"/\[]:;|=,+*?<>@`), per NetUserAdd. */
const ACCOUNT_FORBIDDEN = /["/\\[\]:;|=,+*?<>@]/;
/** Longest SAM account name (`sAMAccountName` of a local account: 20 characters). */
export const MAX_ACCOUNT_NAME = 20;
/** Accounts every Windows has, never created or removed by a reservation (compared case-insensitively). */
const BUILT_IN_ACCOUNTS = new Set([
  'administrator',
  'guest',
  'defaultaccount',
  'wdagutilityaccount',
  'krbtgt',
  'sshd',
]);

function invalid(summary: string, computer: string, hint?: string): never {
  throw coreError('VLAB_ERR_CONFIG_INVALID', summary, {
    computer,
    ...(hint === undefined ? {} : { hint }),
  });
}

/** A printable rendering of untrusted text for an error message (quoted, escaped, cut). */
function shown(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}

/** What is wrong with `name` as a Windows local account name, or `undefined`. */
export function accountNameProblem(name: string): string | undefined {
  if (name.length === 0 || name.length > MAX_ACCOUNT_NAME)
    return `the account name ${shown(name)} is empty or longer than ${MAX_ACCOUNT_NAME} characters`;
  if (ACCOUNT_FORBIDDEN.test(name) || CONTROL.test(name))
    return `the account name ${shown(name)} holds a character Windows refuses ("/\\[]:;|=,+*?<>@ or a control character)`;
  if (/^[. ]+$/.test(name)) return `the account name ${shown(name)} is only dots and spaces`;
  if (name !== name.trim()) return `the account name ${shown(name)} starts or ends with a space`;
  return undefined;
}

/**
 * Throws `VLAB_ERR_CONFIG_INVALID` unless `login` is a name the module may create: core's login
 * rule (so the manager's registry and every module agree), Windows' own (at most 20 characters),
 * and none of Windows' built-in accounts nor the configured administrator.
 */
export function assertLogin(login: string, computer: string, administrator: string): void {
  const problem = loginProblem(login) ?? accountNameProblem(login);
  if (problem !== undefined)
    invalid(problem, computer, `${LOGIN_HINT} Windows allows at most ${MAX_ACCOUNT_NAME}.`);
  if (BUILT_IN_ACCOUNTS.has(login) || login === administrator.toLowerCase())
    invalid(`the login "${login}" is a built-in Windows account`, computer, 'Pick another login.');
}

/** Throws unless `name` is a usable administrator account name (the config's). */
export function assertAdministratorName(name: string): void {
  const problem = accountNameProblem(name);
  if (problem !== undefined)
    invalid(
      `administrator.name: ${problem}`,
      '(config)',
      'Give the local administrator account the management logs in as, e.g. Administrator.',
    );
}

/**
 * The NetBIOS computer name for a host name: its first label, which must be 1 to 15 letters,
 * digits and hyphens, not all digits (Windows refuses a longer or numeric name).
 */
export function computerNameOf(hostname: string, computer: string): string {
  const label = hostname.split('.')[0] ?? '';
  if (
    !/^[A-Za-z0-9-]{1,15}$/.test(label) ||
    /^[0-9]+$/.test(label) ||
    label.startsWith('-') ||
    label.endsWith('-')
  ) {
    invalid(
      `the host name ${shown(hostname)} does not give a Windows computer name (its first label must be 1 to 15 letters, digits and hyphens, not all digits)`,
      computer,
      'Give the computer a host name whose first label is a valid NetBIOS name, e.g. lab-pc-07.',
    );
  }
  return label;
}

/**
 * Throws unless `line` is one OpenSSH public key (core's rule, `sshPublicKeyProblem`) in printable
 * ASCII: key files are written as ASCII.
 */
export function assertPublicKey(line: string, computer: string, what: string): void {
  const problem = sshPublicKeyProblem(line, what);
  if (problem !== undefined) invalid(problem, computer, SSH_PUBLIC_KEY_HINT);
  if (!/^[\x20-\x7e]*$/.test(line))
    invalid(`${what} holds a character outside printable ASCII`, computer);
}

/** Throws unless `value` is an IPv4/IPv6 address or CIDR prefix; returns it normalized. */
export function assertNetwork(value: string, computer: string, what: string): Network {
  const network = parseNetwork(value);
  if (network === undefined)
    invalid(`${what} ${shown(value)} is not an IP address or CIDR prefix`, computer, NETWORK_HINT);
  return network;
}

/** Throws unless `group` is `DOMAIN\Group` with names Windows can hold. */
export function assertDomainGroup(group: string): void {
  const [domain = '', name = '', extra] = group.split('\\');
  const ok =
    extra === undefined &&
    /^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/.test(domain) &&
    name.length > 0 &&
    name.length <= 64 &&
    accountNameProblem(name.slice(0, MAX_ACCOUNT_NAME)) === undefined &&
    !ACCOUNT_FORBIDDEN.test(name);
  if (!ok)
    invalid(
      `domainGroup ${shown(group)} is not DOMAIN\\Group`,
      '(config)',
      'Give the group as DOMAIN\\Group, e.g. LAB\\Lab Staff.',
    );
}

/** Throws unless the unattend settings are a locale tag and a Windows time zone id. */
export function assertUnattendSettings(locale: string, timeZone: string): void {
  if (!/^[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$/.test(locale))
    invalid(
      `unattend.locale ${shown(locale)} is not a locale name`,
      '(config)',
      'Give a Windows locale name such as en-US or de-DE.',
    );
  if (!/^[A-Za-z0-9][A-Za-z0-9 .()+-]{0,63}$/.test(timeZone))
    invalid(
      `unattend.timeZone ${shown(timeZone)} is not a Windows time zone id`,
      '(config)',
      'Give a Windows time zone id (tzutil /l), e.g. UTC or W. Europe Standard Time.',
    );
}

/** Longest password `NetUserAdd` takes (PWLEN). */
const MAX_PASSWORD = 256;

/**
 * Checks every user of a reservation; throws `VLAB_ERR_CONFIG_INVALID` naming the first problem.
 * Passwords are checked without ever putting them into the message.
 */
export function assertReservationUsers(
  users: readonly ReservationUser[],
  computer: string,
  administrator: string,
): readonly Network[] {
  const logins = new Set<string>();
  const networks: Network[] = [];
  for (const user of users) {
    assertLogin(user.login, computer, administrator);
    // Windows compares account names case-insensitively.
    if (logins.has(user.login.toLowerCase()))
      invalid(`the login "${user.login}" is listed twice`, computer);
    logins.add(user.login.toLowerCase());
    if (user.uid !== undefined)
      invalid(
        `"${user.login}" asks for uid ${user.uid}, but Windows accounts have SIDs, not uids`,
        computer,
        'Leave uid unset for Windows computers.',
      );
    if (user.fullName !== undefined && (CONTROL.test(user.fullName) || user.fullName.length > 256))
      invalid(
        `the full name of "${user.login}" holds a control character or a line break, or is over 256 characters`,
        computer,
      );
    if (user.password !== undefined) {
      const password = user.password.reveal();
      if (password.length === 0 || password.length > MAX_PASSWORD || password.includes('\0'))
        invalid(
          `the password of "${user.login}" is empty, over ${MAX_PASSWORD} characters or holds a NUL`,
          computer,
        );
    }
    user.sshKeys.forEach((key, index) => {
      assertPublicKey(key, computer, `SSH key ${index + 1} of "${user.login}"`);
    });
    for (const from of user.allowFrom)
      networks.push(assertNetwork(from, computer, `allowFrom of "${user.login}"`));
  }
  return networks;
}
