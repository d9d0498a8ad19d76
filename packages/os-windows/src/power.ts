import {
  type BootMark,
  confirmPowerOff,
  confirmWentDown,
  isVlabError,
  readBootMark,
  startGoingDown,
} from '@vlab/core';
import type { Guest } from './guest.js';

/** The guest's Win32_OperatingSystem.LastBootUpTime: its own boot id. */
export async function guestBootTime(guest: Guest): Promise<string | undefined> {
  const result = await guest.run('bootTime', [], { timeoutMs: 15_000 });
  return result.code === 0 ? result.stdout.toString('utf8').trim() : undefined;
}

/** This boot, from the power probe and from the guest. */
export function bootMark(guest: Guest): Promise<BootMark> {
  return readBootMark(guest.ctx, () => guestBootTime(guest));
}

/** Shuts Windows down (Stop-Computer -Force) and confirms power off through the probe. */
export async function shutdownConfirmed(
  guest: Guest,
  pollIntervalMs: number,
  timeoutMs?: number,
): Promise<void> {
  const startError = await startGoingDown(guest.ctx, 'shutdown', () =>
    guest.runChecked('shutdown', [], { timeoutMs: 30_000 }),
  );
  await confirmPowerOff(guest.ctx, { intervalMs: pollIntervalMs, timeoutMs, startError });
}

/** Reboots Windows (Restart-Computer -Force) and confirms it went down. */
export async function rebootStarted(
  guest: Guest,
  pollIntervalMs: number,
  timeoutMs?: number,
): Promise<void> {
  const before = await bootMark(guest);
  const startError = await startGoingDown(guest.ctx, 'reboot', () =>
    guest.runChecked('reboot', [], { timeoutMs: 30_000 }),
  );
  await confirmWentDown(guest.ctx, before, () => guestBootTime(guest), {
    intervalMs: pollIntervalMs,
    timeoutMs,
    startError,
  });
}

/** One probe: whether PowerShell answers. Cancellation is thrown; every other failure means "no". */
export async function guestResponds(guest: Guest): Promise<boolean> {
  try {
    const result = await guest.run('probe', [], { timeoutMs: 15_000 });
    return result.code === 0 && result.stdout.toString('utf8').includes('vlab-ok');
  } catch (error) {
    if (isVlabError(error, 'VLAB_ERR_OP_CANCELLED')) throw error;
    return false;
  }
}
