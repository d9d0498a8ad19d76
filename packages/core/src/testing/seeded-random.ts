/**
 * The kit's seeded random numbers: the memory lab draws its machines' boot, shutdown and reboot
 * durations from them, so a run that found a timing-dependent fault can be replayed.
 *
 * The seed is `VLAB_KIT_SEED` when set (a whole number), else a fresh random one; it is printed on
 * stderr once per process, when the first duration is drawn, so every failing run shows how to
 * replay it. A replay draws the same durations in the same order, so it runs the same checks in the
 * same order (one test file, as vitest runs it).
 */

import { coreError } from '../errors/core-errors.js';

let seed: number | undefined;
let machineSerial = 0;

/** The seed of this process's run: `VLAB_KIT_SEED`, or a random one; printed once on stderr. */
export function kitSeed(): number {
  if (seed !== undefined) return seed;
  const given = process.env['VLAB_KIT_SEED'];
  const parsed = given === undefined || given.trim() === '' ? Number.NaN : Number(given);
  if (given !== undefined && given.trim() !== '' && !Number.isSafeInteger(parsed))
    throw coreError(
      'VLAB_ERR_CONFIG_INVALID',
      `VLAB_KIT_SEED must be a whole number, not ${JSON.stringify(given)}`,
    );
  seed = Number.isSafeInteger(parsed) ? parsed >>> 0 : Math.floor(Math.random() * 2 ** 32);
  process.stderr.write(
    `vlab conformance kit: memory lab timings drawn with seed ${seed} (replay with VLAB_KIT_SEED=${seed})\n`,
  );
  return seed;
}

/** A fresh number for each machine that draws, in the order they first draw: its seed's salt. */
export function nextMachineSalt(): number {
  machineSerial += 1;
  return machineSerial;
}

/**
 * A small, fast PRNG (mulberry32) over `seed`: each call returns the next number in [0, 1).
 * Not for anything but test timings.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Mixes a machine's salt into the run's seed, so machines draw different sequences. */
export function machineSeed(runSeed: number, salt: number): number {
  return (Math.imul(runSeed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(salt, 0xc2b2ae35)) >>> 0;
}
