import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where the lab keeps what outlives a test run, on the machine (never in the clone):
 * `VLAB_TESTLAB_CACHE` (default `/var/cache/vlab/testlab`) holds the base images and the deploy
 * environment, built once per machine.
 */
export function cacheDir(): string {
  return process.env['VLAB_TESTLAB_CACHE'] ?? '/var/cache/vlab/testlab';
}

/**
 * `VLAB_TESTLAB_STATE` (default `/var/lib/vlab/testlab`) holds one directory per lab (its disks,
 * keys, BMC configs and the record `down` works from) under `labs/`.
 */
export function stateDir(): string {
  return process.env['VLAB_TESTLAB_STATE'] ?? '/var/lib/vlab/testlab';
}

/** The directory of every lab. */
export function labsDir(): string {
  return join(stateDir(), 'labs');
}

/** The power program shipped with the package (copied into each lab at start). */
export const POWER_PROGRAM = fileURLToPath(new URL('../bin/vlab-power', import.meta.url));

/** The set-up script that installs the Debian packages the lab needs. */
export const SETUP_SCRIPT = fileURLToPath(new URL('../scripts/setup.sh', import.meta.url));
