import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Secret } from '@vlab/core';
import type { Lab, LabHarness } from '@vlab/testlab';
import { type DebianPostgres, startDebianPostgres } from '../database/debian-postgres.js';
import { query } from '../database/lab-postgres.js';
import { failAfterCleanup, LAB_IMAGE, type SeededLab, startSeededLab } from '../seeded-lab.js';
import { labConfigText } from '../testlab-manager.js';
import {
  OBSERVED_OS,
  OBSERVED_OS_SOURCE,
  OBSERVED_PROVISIONER,
  OBSERVED_PROVISIONER_SOURCE,
} from './observed-modules.js';

/** One lab computer, one image store and one external PostgreSQL, for several managers. */
export interface SharedLab {
  readonly lab: Lab;
  readonly harness: LabHarness;
  /** The image store's directory (the provisioner's `store.path`). */
  readonly storeDir: string;
  /** The config file every manager runs. */
  readonly configPath: string;
  /** The url of Debian's PostgreSQL the config names. */
  readonly url: Secret;
  /** What the managers' secret resolver reads: the database url and the BMC passwords. */
  readonly env: Readonly<Record<string, string>>;
  sql<Row extends Record<string, unknown>>(text: string, values?: unknown[]): Promise<Row[]>;
  /** The entries of the image's directory in the store, hidden ones too. */
  storeEntries(): Promise<string[]>;
  /** Stops PostgreSQL, takes the lab down and returns what was left behind (should be `[]`). */
  cleanup(): Promise<string[]>;
}

/**
 * Starts a testlab computer, seeds the store with the lab's base image as revision 1, starts
 * Debian's PostgreSQL and writes the managers' config (lab-computers' config with the observed
 * modules, observed-modules.ts, and `policies.heartbeatSeconds`). Throws, never skips, when any
 * of it cannot start.
 */
export async function startSharedLab(
  computer: string,
  heartbeatSeconds: number,
): Promise<SharedLab> {
  let seeded: SeededLab | undefined;
  let postgres: DebianPostgres | undefined;
  const cleanup = async (): Promise<string[]> => {
    await postgres?.cleanup();
    return (await seeded?.down()) ?? [];
  };
  try {
    seeded = await startSeededLab([computer], { clients: 0 });
    const { lab, install, storeDir } = seeded;
    const harness = seeded.harness(computer);
    await install.addPackage(OBSERVED_OS, { files: { 'index.js': OBSERVED_OS_SOURCE } });
    await install.addPackage(OBSERVED_PROVISIONER, {
      files: { 'index.js': OBSERVED_PROVISIONER_SOURCE },
    });

    postgres = await startDebianPostgres();
    const base = labConfigText(lab, storeDir);
    const configText = `${base
      .replace("package: '@vlab/os-linux'", `package: ${OBSERVED_OS}`)
      .replace(
        "package: '@vlab/provisioner-baremetal'",
        `package: ${OBSERVED_PROVISIONER}`,
      )}policies:\n  heartbeatSeconds: ${heartbeatSeconds}\n`;
    if (configText.includes('@vlab/'))
      throw new Error(`the config names a module unobserved:\n${configText}`);
    const configPath = await install.write('lab/vlab.yaml', configText);
    const env: Record<string, string> = {
      VLAB_TEST_DATABASE_URL: postgres.url.reveal(),
      ...seeded.bmcPasswordEnv,
    };
    const url = postgres.url;
    return {
      lab,
      harness,
      storeDir,
      configPath,
      url,
      env,
      sql: (text, values = []) => query(url, text, values),
      storeEntries: async () =>
        (await readdir(join(storeDir, LAB_IMAGE)).catch(() => [] as string[])).sort(),
      cleanup,
    };
  } catch (error) {
    return failAfterCleanup(error, cleanup);
  }
}
