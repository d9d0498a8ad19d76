import { isIP } from 'node:net';
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
// the machine changes. What the guest cannot hold literally is refused, never quoted into shape.

/** One DNS label; a host name is one or more, dot-separated (RFC 1123). */
const LABEL = /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/;
/** Regular users' uid range of Debian and RHEL (`UID_MIN`…`UID_MAX` in login.defs). */
export const UID_RANGE = { min: 1000, max: 60000 } as const;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

function invalid(summary: string, computer: string, hint?: string): never {
  throw coreError('VLAB_ERR_CONFIG_INVALID', summary, {
    computer,
    ...(hint === undefined ? {} : { hint }),
  });
}

/** A printable rendering of untrusted text for an error message (quotes, escapes, cut). */
function shown(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}

/**
 * Throws `VLAB_ERR_CONFIG_INVALID` unless `login` is a name the module may create: core's one
 * login rule (`loginProblem`), which the manager's user registry applies too.
 */
export function assertLogin(login: string, computer: string): void {
  const problem = loginProblem(login);
  if (problem !== undefined) invalid(problem, computer, LOGIN_HINT);
}

/** Throws unless `line` is one OpenSSH public key (core's rule, `sshPublicKeyProblem`). */
export function assertPublicKey(line: string, computer: string, what: string): void {
  const problem = sshPublicKeyProblem(line, what);
  if (problem !== undefined) invalid(problem, computer, SSH_PUBLIC_KEY_HINT);
}

/** Throws unless `value` is an IPv4/IPv6 address or CIDR prefix; returns it normalized. */
export function assertNetwork(value: string, computer: string, what: string): Network {
  const network = parseNetwork(value);
  if (network === undefined)
    invalid(`${what} ${shown(value)} is not an IP address or CIDR prefix`, computer, NETWORK_HINT);
  return network;
}

/** Throws unless `name` is a host name of DNS labels (RFC 1123), at most 253 characters. */
export function assertHostname(name: string, computer: string): void {
  if (name.length > 253 || !name.split('.').every((label) => LABEL.test(label))) {
    invalid(`the host name ${shown(name)} is not a valid DNS name`, computer);
  }
}

/** Throws unless `server` is an IP address or a host name (an NTP server of the config). */
export function assertServer(server: string, computer: string): void {
  if (isIP(server) === 0) assertHostname(server, computer);
}

/** Whether `name` is a systemd unit name (as an image declares its services). */
export function isUnitName(name: string): boolean {
  return /^[A-Za-z0-9:_.\\@-]{1,250}\.(service|socket|target|timer)$/.test(name);
}

/**
 * Checks every user of a reservation; throws `VLAB_ERR_CONFIG_INVALID` naming the first problem.
 * Passwords are checked without ever putting them into the message.
 */
export function assertReservationUsers(
  users: readonly ReservationUser[],
  computer: string,
): readonly Network[] {
  const logins = new Set<string>();
  const uids = new Set<number>();
  const networks: Network[] = [];
  for (const user of users) {
    assertLogin(user.login, computer);
    if (logins.has(user.login)) invalid(`the login "${user.login}" is listed twice`, computer);
    logins.add(user.login);
    if (user.uid !== undefined) {
      if (!Number.isInteger(user.uid) || user.uid < UID_RANGE.min || user.uid > UID_RANGE.max) {
        invalid(
          `the uid ${user.uid} of "${user.login}" is outside ${UID_RANGE.min}…${UID_RANGE.max}`,
          computer,
        );
      }
      if (uids.has(user.uid)) invalid(`the uid ${user.uid} is given to two users`, computer);
      uids.add(user.uid);
    }
    if (user.fullName !== undefined) {
      // /etc/passwd is colon-separated and line-based: a colon or a control character cannot be
      // stored literally. Everything else (quotes, $(…), unicode) is stored as given.
      if (user.fullName.includes(':') || CONTROL.test(user.fullName) || user.fullName.length > 200)
        invalid(
          `the full name of "${user.login}" holds a colon, a control character or a line break, or is over 200 characters`,
          computer,
        );
    }
    if (user.password !== undefined) {
      const password = user.password.reveal();
      // chpasswd reads "login:password" lines: a line break or NUL would end or cut the record.
      if (password.length === 0 || /[\n\r\0]/.test(password))
        invalid(`the password of "${user.login}" is empty or holds a line break or NUL`, computer);
    }
    user.sshKeys.forEach((key, index) => {
      assertPublicKey(key, computer, `SSH key ${index + 1} of "${user.login}"`);
    });
    for (const from of user.allowFrom)
      networks.push(assertNetwork(from, computer, `allowFrom of "${user.login}"`));
  }
  return networks;
}
