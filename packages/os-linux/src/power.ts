import {
  confirmPowerOff,
  confirmWentDown,
  isVlabError,
  readBootMark,
  startGoingDown,
} from '@vlab/core';
import type { Guest } from './guest.js';

/** The guest kernel's `/proc/sys/kernel/random/boot_id` (the same for containers on one host). */
async function kernelBootId(guest: Guest): Promise<string | undefined> {
  const result = await guest.run(['cat', '/proc/sys/kernel/random/boot_id'], { timeoutMs: 10_000 });
  return result.code === 0 ? result.stdout.toString('utf8').trim() : undefined;
}

/**
 * Starts `systemctl poweroff|reboot` without waiting for it (`--no-block`). Cancellation and a
 * refusal by systemctl are thrown; any other failure is taken for the connection dropping.
 */
function startPowerAction(guest: Guest, verb: 'poweroff' | 'reboot'): Promise<Error | undefined> {
  return startGoingDown(
    guest.ctx,
    verb,
    () => guest.runChecked(['systemctl', '--no-block', verb], { timeoutMs: 30_000 }),
    { dropped: (error) => !isVlabError(error, 'VLAB_ERR_COMMAND_FAILED') },
  );
}

/** Shuts the guest down and waits until its power probe reports off. */
export async function shutdownConfirmed(
  guest: Guest,
  pollIntervalMs: number,
  timeoutMs?: number,
): Promise<void> {
  const startError = await startPowerAction(guest, 'poweroff');
  await confirmPowerOff(guest.ctx, { intervalMs: pollIntervalMs, timeoutMs, startError });
}

/**
 * Starts a reboot and waits until the machine is confirmed to have gone down: power off, or a
 * new boot id from the power probe, or, where the probe has no boot id, a new kernel boot id.
 */
export async function rebootStarted(
  guest: Guest,
  pollIntervalMs: number,
  timeoutMs?: number,
): Promise<void> {
  const bootId = () => kernelBootId(guest);
  const before = await readBootMark(guest.ctx, bootId);
  const startError = await startPowerAction(guest, 'reboot');
  await confirmWentDown(guest.ctx, before, bootId, {
    intervalMs: pollIntervalMs,
    timeoutMs,
    startError,
  });
}

/** One probe: whether `true` runs. Cancellation is thrown; every other failure means "no". */
export async function guestResponds(guest: Guest): Promise<boolean> {
  try {
    return (await guest.run(['true'], { timeoutMs: 15_000, elevated: false })).code === 0;
  } catch (error) {
    if (isVlabError(error, 'VLAB_ERR_OP_CANCELLED')) throw error;
    return false;
  }
}
