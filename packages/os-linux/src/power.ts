import {
  abortError,
  coreError,
  isVlabError,
  type OsContext,
  sleep,
  waitForPowerState,
} from '@vlab/core';
import type { Guest } from './guest.js';

/** VCL's `wait_for_power_off` and `wait_for_reboot`: 300 s. */
export const POWER_TIMEOUT_MS = 300_000;

/** The boot as far as the module can tell it apart from the next one. */
interface BootMark {
  /** From the power probe (a BMC's last power-on, a hypervisor's domain id). */
  readonly probe: string | undefined;
  /** The guest kernel's `/proc/sys/kernel/random/boot_id` (the same for containers on one host). */
  readonly kernel: string | undefined;
}

async function guestBootId(guest: Guest): Promise<string | undefined> {
  const result = await guest.run(['cat', '/proc/sys/kernel/random/boot_id'], { timeoutMs: 10_000 });
  return result.code === 0 ? result.stdout.toString('utf8').trim() : undefined;
}

export async function bootMark(guest: Guest): Promise<BootMark> {
  const { power, signal } = guest.ctx;
  return {
    probe: power.bootId === undefined ? undefined : await power.bootId({ signal }),
    kernel: await guestBootId(guest),
  };
}

/**
 * Starts `systemctl poweroff|reboot` without waiting for it (`--no-block`). The connection may
 * drop before the answer arrives: that is logged and returned, not thrown, since the outcome is
 * confirmed through the power probe anyway. Cancellation and a refusal by systemctl are thrown.
 */
export async function startPowerAction(
  guest: Guest,
  verb: 'poweroff' | 'reboot',
): Promise<Error | undefined> {
  try {
    await guest.runChecked(['systemctl', '--no-block', verb], { timeoutMs: 30_000 });
    return undefined;
  } catch (error) {
    if (guest.ctx.signal.aborted) throw abortError(guest.ctx.signal, guest.computer);
    if (isVlabError(error, 'VLAB_ERR_COMMAND_FAILED')) throw error;
    guest.ctx.log.warn('the connection dropped while starting the power action', {
      action: verb,
      error: (error as Error).message,
    });
    return error as Error;
  }
}

/** A power change that was never confirmed, with what went wrong when it was started. */
function unconfirmed(error: unknown, startError: Error | undefined): unknown {
  if (startError === undefined || !isVlabError(error, 'VLAB_ERR_POWER_UNCONFIRMED')) return error;
  return coreError(
    'VLAB_ERR_POWER_UNCONFIRMED',
    `${error.summary}; starting it had failed: ${startError.message}`,
    { computer: error.computer, cause: startError, details: error.details },
  );
}

function boundedTimeout(ctx: OsContext, timeoutMs: number | undefined): number {
  return Math.max(0, Math.min(timeoutMs ?? POWER_TIMEOUT_MS, ctx.remainingMs()));
}

/** Shuts the guest down and waits until its power probe reports off. */
export async function shutdownConfirmed(
  guest: Guest,
  pollIntervalMs: number,
  timeoutMs?: number,
): Promise<void> {
  const { ctx } = guest;
  const startError = await startPowerAction(guest, 'poweroff');
  await waitForPowerState(ctx.power, 'off', {
    signal: ctx.signal,
    timeoutMs: boundedTimeout(ctx, timeoutMs),
    intervalMs: pollIntervalMs,
    computer: guest.computer,
  }).catch((error: unknown) => {
    throw unconfirmed(error, startError);
  });
  ctx.log.info('powered off, confirmed by the power probe');
}

/**
 * Starts a reboot and waits until the machine is confirmed to have gone down: power off, or a
 * new boot id from the power probe (a warm reboot never shows power off), or, where the probe has
 * no boot id, a new kernel boot id once the guest answers again.
 */
export async function rebootStarted(
  guest: Guest,
  pollIntervalMs: number,
  timeoutMs?: number,
): Promise<void> {
  const { ctx } = guest;
  const before = await bootMark(guest);
  const startError = await startPowerAction(guest, 'reboot');
  const limit = boundedTimeout(ctx, timeoutMs);
  const until = Date.now() + limit;
  let last = 'on';
  for (;;) {
    const power = await ctx.power.status({ signal: ctx.signal });
    last = power;
    if (power === 'off') break;
    if (before.probe !== undefined && ctx.power.bootId !== undefined) {
      const now = await ctx.power.bootId({ signal: ctx.signal });
      if (now !== undefined && now !== before.probe) break;
    } else if (before.kernel !== undefined) {
      const now = await guestBootId(guest).catch(() => undefined);
      if (now !== undefined && now !== before.kernel) break;
    }
    if (Date.now() + pollIntervalMs > until) {
      throw unconfirmed(
        coreError(
          'VLAB_ERR_POWER_UNCONFIRMED',
          `the machine did not go down for the reboot within ${Math.round(limit / 1000)} s (power ${last}, boot id unchanged)`,
          { computer: guest.computer, details: { wanted: 'reboot', last, timeoutMs: limit } },
        ),
        startError,
      );
    }
    await sleep(pollIntervalMs, ctx.signal, guest.computer);
  }
  ctx.log.info('went down for the reboot', { confirmedBy: last === 'off' ? 'power' : 'boot id' });
}

/** Resolves once the guest answers, within `timeoutMs` and the context's deadline. */
export function waitForGuest(ctx: OsContext, timeoutMs = 600_000): Promise<void> {
  return ctx.communicator.waitUntilReachable({
    signal: ctx.signal,
    timeoutMs: Math.max(1, Math.min(timeoutMs, ctx.remainingMs())),
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
