import {
  type ComputerContext,
  type PowerProbe,
  type PowerState,
  waitForPowerState,
} from '@vlab/core';
import { type Bmc, IpmiClient } from '@vlab/ipmi';
import type { ComputerFacts } from './computer-facts.js';
import type { BaremetalConfig } from './config.js';

/** What the provisioner does to a computer through its BMC, confirmed through the BMC. */
export interface ComputerBmc {
  /** The power as the BMC reads it. */
  status(signal: AbortSignal): Promise<Exclude<PowerState, 'unknown'>>;
  /** A probe for the OS module (`ctx.power`): the BMC's reading, never the guest's word. */
  readonly probe: PowerProbe;
  /** Powers on (idempotent) and waits until the BMC reads on. */
  on(signal: AbortSignal): Promise<void>;
  /** Powers off hard (idempotent) and waits until the BMC reads off. */
  off(signal: AbortSignal): Promise<void>;
  /**
   * Sends power off without waiting for the BMC to read off: for the cleanup after an abort,
   * which must end within the caller's bound (whoever touches the machine next confirms its power).
   */
  cut(signal: AbortSignal): Promise<void>;
  /**
   * A power cycle the BMC confirms step by step: off (confirmed), then on (confirmed); a machine
   * that is off is powered on. Never a blind `chassis power cycle`, whose short off a BMC read
   * can miss.
   */
  cycle(signal: AbortSignal): Promise<void>;
  /** Boots `device` at the next power on only (the BMC keeps the flag past 60 s). */
  bootOnce(device: 'pxe' | 'disk', signal: AbortSignal): Promise<void>;
  /** Waits until the BMC reads `state`, for at most `timeoutMs`. */
  waitFor(state: 'on' | 'off', timeoutMs: number, signal: AbortSignal): Promise<void>;
}

/**
 * One kept RMCP+ session per BMC, shared by every operation on its computer (`@vlab/ipmi` keeps
 * it alive and re-establishes it); {@link BmcSessions.close} ends them all.
 */
export class BmcSessions {
  readonly #client = new IpmiClient();
  readonly #config: BaremetalConfig;

  constructor(config: BaremetalConfig) {
    this.#config = config;
  }

  /** The BMC of the computer in `ctx`, its password resolved from the credential reference. */
  async forComputer(ctx: ComputerContext, facts: ComputerFacts): Promise<ComputerBmc> {
    const password = await ctx.secrets.resolve(facts.bmc.password);
    const bmc: Bmc = this.#client.bmc({
      host: facts.bmc.host,
      port: facts.bmc.port,
      username: facts.bmc.user,
      password,
      cipherSuites: facts.bmc.cipherSuites,
      computer: facts.name,
    });
    const { bmcCommandMs, powerMs } = this.#config.timeouts;
    const call = (signal: AbortSignal) => ({ signal, timeoutMs: bmcCommandMs });
    const probe: PowerProbe = {
      status: (options) => bmc.powerStatus(call(options?.signal ?? new AbortController().signal)),
    };
    const waitFor = (state: 'on' | 'off', timeoutMs: number, signal: AbortSignal) =>
      waitForPowerState(probe, state, {
        signal,
        timeoutMs,
        intervalMs: this.#config.pollIntervalMs,
        computer: facts.name,
      });
    const on = async (signal: AbortSignal): Promise<void> => {
      if ((await bmc.powerStatus(call(signal))) === 'on') return;
      await bmc.power('on', call(signal));
      await waitFor('on', powerMs, signal);
    };
    const off = async (signal: AbortSignal): Promise<void> => {
      if ((await bmc.powerStatus(call(signal))) === 'off') return;
      await bmc.power('off', call(signal));
      await waitFor('off', powerMs, signal);
    };
    return {
      probe,
      status: (signal) => bmc.powerStatus(call(signal)),
      on,
      off,
      async cut(signal) {
        await bmc.power('off', call(signal));
      },
      async cycle(signal) {
        await off(signal);
        await on(signal);
      },
      bootOnce: (device, signal) => bmc.setBootDevice(device, call(signal)),
      waitFor,
    };
  }

  /** Ends every kept session. */
  close(): Promise<void> {
    return this.#client.close();
  }
}
