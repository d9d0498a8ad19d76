import { coreError, type Network } from '@vlab/core';
import type { Guest } from './guest.js';
import { GUEST_PATHS } from './paths.js';
import { assertLogin, assertNetwork } from './validate.js';

/**
 * What a reservation changed on the guest, kept on the guest itself
 * (`C:\ProgramData\vlab\reservation.json`): `sanitize` removes exactly these accounts (never one
 * the image had) with their profiles, and closes exactly these rules. `reserve` records an
 * account before it creates it, so an interrupted `reserve` is undone too.
 */
export interface ReservationState {
  readonly logins: readonly string[];
  /** Each account's SID once known: finds its profile after the account is gone. */
  readonly sids: Readonly<Record<string, string>>;
  readonly allowFrom: readonly Network[];
}

/** No reservation. */
export const EMPTY_STATE: ReservationState = { logins: [], sids: {}, allowFrom: [] };

export async function readReservationState(
  guest: Guest,
  administrator: string,
): Promise<ReservationState> {
  const text = await guest.readFile(GUEST_PATHS.reservation);
  if (text === undefined) return EMPTY_STATE;
  let value: Partial<{
    logins: unknown[];
    sids: Record<string, unknown>;
    allowFrom: { text?: unknown }[];
  }>;
  try {
    value = JSON.parse(text) as typeof value;
  } catch (error) {
    throw coreError('VLAB_ERR_COMMAND_FAILED', `${GUEST_PATHS.reservation} is not valid JSON`, {
      computer: guest.computer,
      cause: error,
      hint: 'Reload the computer: what the last reservation created cannot be known.',
    });
  }
  // The file lives on a machine users had administrator rights on: re-check every entry.
  const logins = (Array.isArray(value.logins) ? value.logins : []).map(String).filter((login) => {
    try {
      assertLogin(login, guest.computer, administrator);
      return true;
    } catch {
      guest.ctx.log.warn('ignored an invalid login in the reservation record');
      return false;
    }
  });
  const sids: Record<string, string> = {};
  for (const [login, sid] of Object.entries(value.sids ?? {}))
    if (logins.includes(login) && typeof sid === 'string' && /^S-1-5-21(-\d+){4}$/.test(sid))
      sids[login] = sid;
  const allowFrom = (Array.isArray(value.allowFrom) ? value.allowFrom : []).flatMap((n) => {
    try {
      return [assertNetwork(String(n?.text), guest.computer, 'recorded address')];
    } catch {
      guest.ctx.log.warn('ignored an invalid address in the reservation record');
      return [];
    }
  });
  return { logins, sids, allowFrom };
}

/** Writes the record; an empty one removes the file. */
export async function writeReservationState(guest: Guest, state: ReservationState): Promise<void> {
  if (state.logins.length === 0 && state.allowFrom.length === 0) {
    await guest.remove(GUEST_PATHS.reservation);
    return;
  }
  await guest.writeFile(GUEST_PATHS.reservation, `${JSON.stringify(state, null, 2)}\n`);
}
