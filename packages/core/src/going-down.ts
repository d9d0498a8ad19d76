import { abortError, sleep } from './abort.js';
import type { OsContext } from './context.js';
import { coreError } from './errors/core-errors.js';
import { isVlabError } from './errors/vlab-error.js';
import { type PowerState, waitForPowerState } from './power.js';

// VCL's wait_for_power_off and wait_for_reboot.
const POWER_TIMEOUT_MS = 300_000;
// VCL's wait_for_response.
const RESPONSE_TIMEOUT_MS = 600_000;

/**
 * Reads the guest's own id of its current boot (Linux: `/proc/sys/kernel/random/boot_id`;
 * Windows: `LastBootUpTime`); `undefined` when the guest cannot tell. OS module specific.
 * @public
 */
export type GuestBootId = () => Promise<string | undefined>;

/**
 * A boot, as far as an OS module can tell it apart from the next one; see {@link readBootMark}.
 * @public
 */
export interface BootMark {
  /** The power probe's boot id (a BMC's last power-on, a hypervisor's domain id), if it has one. */
  readonly probe: string | undefined;
  /** The guest's own boot id ({@link GuestBootId}), for a probe without one. */
  readonly guest: string | undefined;
}

/**
 * Reads the current boot from `ctx.power.bootId()` and from the guest, before a reboot starts,
 * for {@link confirmWentDown}. Errors of either are thrown.
 * @public
 */
export async function readBootMark(ctx: OsContext, guestBootId: GuestBootId): Promise<BootMark> {
  const { power, signal } = ctx;
  return {
    probe: power.bootId === undefined ? undefined : await power.bootId({ signal }),
    guest: await guestBootId(),
  };
}

/** Options of {@link startGoingDown}. @public */
export interface StartGoingDownOptions {
  /**
   * Whether `error` means the connection dropped (the step may well have worked) rather than a
   * refusal. Default: `VLAB_ERR_CONNECTION_LOST` and `VLAB_ERR_COMPUTER_UNREACHABLE` do.
   */
  readonly dropped?: ((error: unknown) => boolean) | undefined;
}

function droppedByDefault(error: unknown): boolean {
  return (
    isVlabError(error, 'VLAB_ERR_CONNECTION_LOST') ||
    isVlabError(error, 'VLAB_ERR_COMPUTER_UNREACHABLE')
  );
}

/**
 * Runs `start`, the step that takes the machine down (a shutdown, a reboot, sysprep). The
 * connection may drop before its answer arrives: that is logged and returned, not thrown, since
 * the outcome is confirmed through the power probe anyway ({@link confirmPowerOff},
 * {@link confirmWentDown}, which name it if that fails). A cancel (`ctx.signal`) and any other
 * error, such as a refusal, are thrown.
 * @param action - Names the step in the log.
 * @returns The dropped connection's error, or `undefined` if `start` resolved.
 * @public
 */
export async function startGoingDown(
  ctx: OsContext,
  action: string,
  start: () => Promise<unknown>,
  options: StartGoingDownOptions = {},
): Promise<Error | undefined> {
  try {
    await start();
    return undefined;
  } catch (error) {
    if (ctx.signal.aborted) throw abortError(ctx.signal, ctx.computer.name);
    if (!(options.dropped ?? droppedByDefault)(error)) throw error;
    ctx.log.warn('the connection dropped while the machine was going down', {
      action,
      error: (error as Error).message,
    });
    return error as Error;
  }
}

/** Options of {@link confirmPowerOff} and {@link confirmWentDown}. @public */
export interface ConfirmPowerOptions {
  /** Poll interval in milliseconds. */
  readonly intervalMs: number;
  /** Give up after this many milliseconds, and by the context's deadline. Default: 300000. */
  readonly timeoutMs?: number | undefined;
  /** What {@link startGoingDown} returned: the timeout error then says that starting had failed. */
  readonly startError?: Error | undefined;
}

// A power change never confirmed, with what went wrong when it was started.
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

/**
 * Waits until the power probe reports off ({@link waitForPowerState}): a silent guest is never
 * taken for an off one. Throws `VLAB_ERR_POWER_UNCONFIRMED` after the timeout.
 * @public
 */
export async function confirmPowerOff(ctx: OsContext, options: ConfirmPowerOptions): Promise<void> {
  await waitForPowerState(ctx.power, 'off', {
    signal: ctx.signal,
    timeoutMs: boundedTimeout(ctx, options.timeoutMs),
    intervalMs: options.intervalMs,
    computer: ctx.computer.name,
  }).catch((error: unknown) => {
    throw unconfirmed(error, options.startError);
  });
  ctx.log.info('powered off, confirmed by the power probe');
}

/**
 * Waits until the machine is confirmed to have gone down for a reboot: power off, or a new boot
 * id from the power probe (a warm reboot may never show power off), or, where `before` has no
 * probe boot id, a new guest boot id once the guest answers again (`guestBootId`'s errors count
 * as "not yet"). Throws `VLAB_ERR_POWER_UNCONFIRMED` after the timeout.
 * @param before - The boot before the reboot started ({@link readBootMark}).
 * @public
 */
export async function confirmWentDown(
  ctx: OsContext,
  before: BootMark,
  guestBootId: GuestBootId,
  options: ConfirmPowerOptions,
): Promise<void> {
  const limit = boundedTimeout(ctx, options.timeoutMs);
  const until = Date.now() + limit;
  let last: PowerState = 'on';
  for (;;) {
    last = await ctx.power.status({ signal: ctx.signal });
    if (last === 'off') break;
    if (before.probe !== undefined && ctx.power.bootId !== undefined) {
      const now = await ctx.power.bootId({ signal: ctx.signal });
      if (now !== undefined && now !== before.probe) break;
    } else if (before.guest !== undefined) {
      const now = await guestBootId().catch(() => undefined);
      if (now !== undefined && now !== before.guest) break;
    }
    if (Date.now() + options.intervalMs > until) {
      throw unconfirmed(
        coreError(
          'VLAB_ERR_POWER_UNCONFIRMED',
          `the machine did not go down for the reboot within ${Math.round(limit / 1000)} s (power ${last}, boot id unchanged)`,
          { computer: ctx.computer.name, details: { wanted: 'reboot', last, timeoutMs: limit } },
        ),
        options.startError,
      );
    }
    await sleep(options.intervalMs, ctx.signal, ctx.computer.name);
  }
  ctx.log.info('went down for the reboot', { confirmedBy: last === 'off' ? 'power' : 'boot id' });
}

/**
 * Resolves once the guest answers (`ctx.communicator.waitUntilReachable`), within `timeoutMs`
 * (default: 600000) and the context's deadline.
 * @public
 */
export function waitForGuest(ctx: OsContext, timeoutMs = RESPONSE_TIMEOUT_MS): Promise<void> {
  return ctx.communicator.waitUntilReachable({
    signal: ctx.signal,
    timeoutMs: Math.max(1, Math.min(timeoutMs, ctx.remainingMs())),
  });
}
