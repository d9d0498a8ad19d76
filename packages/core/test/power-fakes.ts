import type { PowerProbe, PowerState } from '../src/power.js';

/**
 * A power probe answering `states` in turn, then its last one again, and, when `bootIds` is given,
 * boot ids the same way. `calls` holds the signal each call was given.
 */
export function scriptedProbe(
  states: readonly PowerState[],
  bootIds?: readonly (string | undefined)[],
) {
  const calls = {
    status: [] as (AbortSignal | undefined)[],
    bootId: [] as (AbortSignal | undefined)[],
  };
  const at = <T>(list: readonly T[], index: number): T =>
    list[Math.min(index, list.length - 1)] as T;
  const probe: PowerProbe = {
    async status(options) {
      calls.status.push(options?.signal);
      return at(states, calls.status.length - 1) ?? 'unknown';
    },
  };
  if (bootIds !== undefined) {
    probe.bootId = async (options) => {
      calls.bootId.push(options?.signal);
      return at(bootIds, calls.bootId.length - 1);
    };
  }
  return { probe, calls };
}
