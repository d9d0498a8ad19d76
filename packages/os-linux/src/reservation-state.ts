import { posix } from 'node:path';
import { coreError, type Network } from '@vlab/core';
import type { Guest } from './guest.js';
import { GUEST_PATHS } from './paths.js';
import { assertLogin, assertNetwork } from './validate.js';

/**
 * What a reservation changed on the guest, kept on the guest itself: `sanitize` removes exactly
 * these accounts (never one the image had) and closes exactly these addresses. `reserve` records
 * an account before it creates it, so an interrupted `reserve` is undone too.
 */
export interface ReservationState {
  readonly logins: readonly string[];
  readonly allowFrom: readonly Network[];
}

const EMPTY: ReservationState = { logins: [], allowFrom: [] };

export async function readReservationState(guest: Guest): Promise<ReservationState> {
  const text = await guest.readFile(GUEST_PATHS.reservation);
  if (text === undefined) return EMPTY;
  try {
    const value = JSON.parse(text) as Partial<ReservationState>;
    // The file lives on a machine users had root on: re-check every entry, never trust it.
    return {
      logins: (value.logins ?? []).filter((login) => {
        try {
          assertLogin(String(login), guest.computer);
          return true;
        } catch {
          guest.ctx.log.warn('ignored an invalid login in the reservation state');
          return false;
        }
      }),
      allowFrom: (value.allowFrom ?? []).flatMap((n) => {
        try {
          return [assertNetwork(String(n.text), guest.computer, 'recorded address')];
        } catch {
          guest.ctx.log.warn('ignored an invalid address in the reservation state');
          return [];
        }
      }),
    };
  } catch (error) {
    throw coreError('VLAB_ERR_COMMAND_FAILED', `${GUEST_PATHS.reservation} is not valid JSON`, {
      computer: guest.computer,
      cause: error,
      hint: 'Reload the computer: what the last reservation created cannot be known.',
    });
  }
}

export async function writeReservationState(guest: Guest, state: ReservationState): Promise<void> {
  if (state.logins.length === 0 && state.allowFrom.length === 0) {
    await guest.remove(GUEST_PATHS.reservation);
    // Leave no trace of the reservation: the directory goes too when nothing else is in it (a
    // non-zero exit — no such directory — is fine; a lost connection or a cancel still throws).
    await guest.run([
      'rmdir',
      '--ignore-fail-on-non-empty',
      '--',
      posix.dirname(GUEST_PATHS.reservation),
    ]);
    return;
  }
  await guest.writeFile(GUEST_PATHS.reservation, `${JSON.stringify(state, null, 2)}\n`, {
    mode: 0o600,
  });
}
