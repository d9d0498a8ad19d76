import { type ReserveArgs, type ReserveResult, taintedStamp, uniqueNetworks } from '@vlab/core';
import { applyAccount, assertAccountsFree, readAccounts, removeAccount } from './accounts.js';
import type { LinuxOsConfig } from './config.js';
import type { Guest } from './guest.js';
import { GUEST_PATHS } from './paths.js';
import { type GuestFacts, probeGuest } from './probe.js';
import { readReservationState, writeReservationState } from './reservation-state.js';
import { firewallTool, setSshAccess } from './ssh-access.js';
import { readStampFile, writeStampFile } from './stamp-file.js';
import { assertReservationUsers, isUnitName } from './validate.js';

/** The units the image declares for users (`/etc/vlab/reservation-services`), invalid names skipped. */
async function declaredServices(guest: Guest): Promise<string[]> {
  const text = (await guest.readFile(GUEST_PATHS.reservationServices)) ?? '';
  const names = text
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter((line) => line !== '');
  const valid = names.filter(isUnitName);
  if (valid.length < names.length)
    guest.ctx.log.warn('skipped invalid unit names in the image', {
      file: GUEST_PATHS.reservationServices,
      skipped: names.length - valid.length,
    });
  return valid;
}

/** `reserve`: see the README's table for what changes on the machine. */
export async function reserve(
  guest: Guest,
  config: LinuxOsConfig,
  { users }: ReserveArgs,
): Promise<ReserveResult> {
  const { ctx } = guest;
  const networks = assertReservationUsers(users, guest.computer);
  const facts = await probeGuest(guest);
  const tool = firewallTool(config, facts, guest.computer, true);
  const state = await readReservationState(guest);
  const accounts = await readAccounts(guest);
  assertAccountsFree(users, accounts, new Set(state.logins), guest.computer);

  // The reservation becomes exactly `users`. Recorded first (with the accounts it replaces), so
  // that an interrupted reserve is still undone by sanitize.
  const logins = users.map((u) => u.login);
  const allowFrom = uniqueNetworks(networks);
  await writeReservationState(guest, {
    logins: [...new Set([...state.logins, ...logins])],
    allowFrom,
  });
  for (const login of state.logins.filter((l) => !logins.includes(l))) {
    await removeAccount(guest, login, accounts.get(login));
    ctx.log.info('account no longer on the reservation removed', { login });
  }
  for (const user of users) {
    await applyAccount(guest, user, accounts.has(user.login));
    ctx.log.info('reservation account ready', {
      login: user.login,
      admin: user.admin,
      passwordLogin: user.password !== undefined,
      keys: user.sshKeys.length,
    });
  }
  await writeReservationState(guest, { logins, allowFrom });
  await setSshAccess(guest, config, facts, tool, allowFrom);
  const services = await declaredServices(guest);
  if (services.length > 0) {
    await guest.runChecked(['systemctl', 'start', '--', ...services]);
    ctx.log.info("started the image's reservation services", { services });
  }
  const stamp = await readStampFile(guest);
  if (stamp !== undefined && !stamp.tainted) await writeStampFile(guest, taintedStamp(stamp));
  const host = ctx.computer.addresses.public ?? ctx.computer.addresses.management;
  return {
    access: users.map((u) => ({ login: u.login, protocol: 'ssh', host, port: config.sshPort })),
  };
}

/**
 * `sanitize`: firewall closed first (no new logins), then every account of the reservation.
 * `facts` saves the probe when the caller (preCapture) has made it already.
 */
export async function sanitize(
  guest: Guest,
  config: LinuxOsConfig,
  facts?: GuestFacts,
): Promise<void> {
  const { ctx } = guest;
  facts ??= await probeGuest(guest);
  const state = await readReservationState(guest);
  await setSshAccess(guest, config, facts, firewallTool(config, facts, guest.computer, false), []);
  const services = await declaredServices(guest);
  if (services.length > 0) await guest.run(['systemctl', 'stop', '--', ...services]);
  const accounts = await readAccounts(guest);
  for (const login of state.logins) {
    await removeAccount(guest, login, accounts.get(login));
    ctx.log.info('reservation account removed', { login });
  }
  await writeReservationState(guest, { logins: [], allowFrom: [] });
}

/** `postReservation`: runs the image's executables in `/etc/vlab/post-reservation.d`, in name order. */
export async function postReservation(guest: Guest): Promise<void> {
  const out = await guest.scriptChecked(
    'list-post-reservation',
    'for f in "$1"/*; do [ -f "$f" ] && [ -x "$f" ] && printf "%s\\n" "$f"; done; exit 0',
    [GUEST_PATHS.postReservationDir],
  );
  for (const script of out.split('\n').filter((line) => line !== '')) {
    guest.ctx.log.info('running an end-of-reservation script', { script });
    // VCL's vcl_post_reservation gets 300 s.
    await guest.runChecked([script], { timeoutMs: 300_000 });
  }
}
