import { sleep, throwIfCancelled } from './abort.js';
import { coreError } from './errors/core-errors.js';

/** A machine's power as its BMC or hypervisor reports it. @public */
export type PowerState = 'on' | 'off' | 'unknown';

/**
 * A read-only view of a machine's power, supplied by the provisioner from its BMC or hypervisor.
 * OS modules use it to confirm a shutdown: "SSH went away" alone never proves a machine is off.
 * @public
 */
export interface PowerProbe {
  /** The power state now. Must honour the signal and time out on its own (default 10 s). */
  status(options?: { readonly signal?: AbortSignal }): Promise<PowerState>;
  /**
   * Optional: an identifier of the current boot that changes at every boot (the BMC's last
   * power-on time, a hypervisor's domain id). A warm reboot may never show power `off`; a changed
   * boot id confirms it went down all the same.
   */
  bootId?(options?: { readonly signal?: AbortSignal }): Promise<string | undefined>;
}

/** Options of {@link waitForPowerState}. @public */
export interface WaitForPowerOptions {
  /** Stops the wait when it fires; the call then rejects with the cancel error. */
  readonly signal: AbortSignal;
  /** Give up after this many milliseconds. Default: 300000 (VCL's wait_for_power_off). */
  readonly timeoutMs?: number;
  /** Poll interval in milliseconds. Default: 1000. */
  readonly intervalMs?: number;
  /** Names the machine in the error. */
  readonly computer?: string;
}

/**
 * Polls `probe` until it reports `wanted`. Throws `VLAB_ERR_POWER_UNCONFIRMED` after the timeout,
 * with the last state seen; throws the cancel error if the signal fires first.
 * @public
 */
export async function waitForPowerState(
  probe: PowerProbe,
  wanted: Exclude<PowerState, 'unknown'>,
  options: WaitForPowerOptions,
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 300_000;
  const intervalMs = options.intervalMs ?? 1000;
  const until = Date.now() + timeoutMs;
  let last: PowerState = 'unknown';
  for (;;) {
    throwIfCancelled(options.signal, options.computer, `waiting for power ${wanted}`);
    last = await probe.status({ signal: options.signal });
    if (last === wanted) return;
    if (Date.now() + intervalMs > until) break;
    await sleep(intervalMs, options.signal, options.computer);
  }
  throw coreError(
    'VLAB_ERR_POWER_UNCONFIRMED',
    `power did not become ${wanted} within ${Math.round(timeoutMs / 1000)} s (last seen: ${last})`,
    { computer: options.computer, details: { wanted, last, timeoutMs } },
  );
}
