import {
  type ReserveArgs,
  type ReserveResult,
  taintedStamp,
  type UserAccess,
  uniqueNetworks,
} from '@vlab/core';
import { applyAccount, assertAccountsFree, readAccounts, removeAccount } from './accounts.js';
import type { WindowsOsConfig } from './config.js';
import { type GuestFacts, readFacts } from './facts.js';
import { setAccess } from './firewall.js';
import type { Guest } from './guest.js';
import { EMPTY_STATE, readReservationState, writeReservationState } from './reservation-state.js';
import { readStampFile, writeStampFile } from './stamp-file.js';
import { assertReservationUsers } from './validate.js';

/** Where the image keeps its end-of-reservation scripts (`*.cmd`, run in name order). */
export const POST_RESERVATION_DIR = 'C:\\ProgramData\\vlab\\post-reservation.d';

/** `reserve`: see the README's table for what changes on the machine. */
export async function reserve(
  guest: Guest,
  config: WindowsOsConfig,
  { users }: ReserveArgs,
): Promise<ReserveResult> {
  const { ctx } = guest;
  const administrator = config.administrator.name;
  const networks = assertReservationUsers(users, guest.computer, administrator);
  const facts = await readFacts(guest);
  const state = await readReservationState(guest, administrator);
  const accounts = await readAccounts(guest);
  assertAccountsFree(users, accounts, new Set(state.logins), guest.computer);

  // The reservation becomes exactly `users`. Recorded first (with the accounts it replaces), so
  // that an interrupted reserve is still undone by sanitize.
  const logins = users.map((u) => u.login);
  const allowFrom = uniqueNetworks(networks);
  await writeReservationState(guest, {
    logins: [...new Set([...state.logins, ...logins])],
    sids: state.sids,
    allowFrom,
  });
  const sids: Record<string, string> = {};
  for (const login of state.logins.filter((l) => !logins.includes(l))) {
    await removeAccount(guest, login, state.sids[login]);
    ctx.log.info('account no longer on the reservation removed', { login });
  }
  for (const user of users) {
    sids[user.login] = await applyAccount(guest, user);
    ctx.log.info('reservation account ready', {
      login: user.login,
      admin: user.admin,
      passwordLogin: user.password !== undefined,
      keys: user.sshKeys.length,
    });
  }
  await writeReservationState(guest, { logins, sids, allowFrom });
  await setAccess(guest, config, facts, allowFrom);
  const stamp = await readStampFile(guest);
  if (stamp !== undefined && !stamp.tainted) await writeStampFile(guest, taintedStamp(stamp));
  const host = ctx.computer.addresses.public ?? ctx.computer.addresses.management;
  const access: UserAccess[] = [];
  for (const user of users) {
    // Remote Desktop needs the user's password (NLA asks for it); SSH takes keys or the password.
    if (user.password !== undefined)
      access.push({ login: user.login, protocol: 'rdp', host, port: config.ports.rdp });
    if (user.password !== undefined || user.sshKeys.length > 0)
      access.push({ login: user.login, protocol: 'ssh', host, port: config.ports.ssh });
  }
  return { access };
}

/**
 * `sanitize`: the users' rules closed first (no new logons), then every account of the record
 * with its sessions, processes and profile, then the record. `facts` saves a round trip when
 * the caller (preCapture) has them.
 */
export async function sanitize(
  guest: Guest,
  config: WindowsOsConfig,
  facts?: GuestFacts,
): Promise<void> {
  const { ctx } = guest;
  facts ??= await readFacts(guest);
  const state = await readReservationState(guest, config.administrator.name);
  await setAccess(guest, config, facts, []);
  for (const login of state.logins) {
    await removeAccount(guest, login, state.sids[login]);
    ctx.log.info('reservation account removed', { login });
  }
  await writeReservationState(guest, EMPTY_STATE);
}

/** `postReservation`: runs the image's `*.cmd` scripts in `C:\ProgramData\vlab\post-reservation.d`, in name order. */
export async function postReservation(guest: Guest): Promise<void> {
  const out = await guest.runChecked('listPostReservation', [POST_RESERVATION_DIR]);
  const scripts = out
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .sort();
  for (const script of scripts) {
    guest.ctx.log.info('running an end-of-reservation script', { script });
    // VCL's vcl_post_reservation gets 300 s.
    await guest.runChecked('runPostReservation', [script], { timeoutMs: 300_000 });
  }
}
