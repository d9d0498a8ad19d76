import { join } from 'node:path';
import { createLabHarness, type Lab, type LabHarness, labLeftovers, startLab } from '@vlab/testlab';
import { LAB_IMAGE } from '../scripts/demo/lab-config.js';
import { seedLabImage } from '../scripts/demo/seed-image.js';
import { type InstallDir, makeRealModulesInstallDir } from './install-dir.js';

export { LAB_IMAGE };

/**
 * What every test of the manager on lab computers starts from: a testlab (systemd-nspawn guests,
 * ipmi_sim BMCs, PXE deploy environment), its store seeded with the lab's base image as
 * {@link LAB_IMAGE} revision 1, and an install directory holding the real `@vlab/os-linux` and
 * `@vlab/provisioner-baremetal`. The caller adds its manager, PostgreSQL and config.
 */
export interface SeededLab {
  readonly lab: Lab;
  /** The image store's directory (the provisioner's `store.path`). */
  readonly storeDir: string;
  /** The harness of each computer (to look at machines from outside, never to drive them). */
  readonly harnesses: ReadonlyMap<string, LabHarness>;
  /** The install directory, the real modules in it (`makeRealModulesInstallDir`). */
  readonly install: InstallDir;
  /** What the config's BMC password references read (`VLAB_TEST_BMC_PASSWORD_<COMPUTER>`). */
  readonly bmcPasswordEnv: Readonly<Record<string, string>>;
  /** The harness of `name` (throws for a computer the lab does not have). */
  harness(name: string): LabHarness;
  /**
   * Closes the harnesses, removes the install directory and takes the lab down; returns what was
   * left behind (should be `[]`). Stop what runs below the install directory first.
   */
  down(): Promise<string[]>;
}

/** Starts a {@link SeededLab} of `computers` (throws, never skips, when it cannot). */
export async function startSeededLab(
  computers: readonly string[],
  options: { readonly clients: number },
): Promise<SeededLab> {
  const harnesses = new Map<string, LabHarness>();
  let lab: Lab | undefined;
  let install: InstallDir | undefined;
  const down = async (): Promise<string[]> => {
    for (const harness of harnesses.values()) await harness.close();
    await install?.remove();
    if (lab === undefined) return [];
    const { id, record } = lab;
    await lab.down();
    return Object.values(await labLeftovers(id, record.blackhole)).flat();
  };
  try {
    lab = await startLab({ computers, clients: options.clients });
    const storeDir = join(lab.dir, 'store');
    for (const computer of computers)
      harnesses.set(computer, await createLabHarness(lab, computer, { storeDir }));
    await seedLabImage(lab, storeDir);
    install = await makeRealModulesInstallDir();
    const bmcPasswordEnv: Record<string, string> = {};
    for (const c of lab.computers)
      bmcPasswordEnv[`VLAB_TEST_BMC_PASSWORD_${c.name.toUpperCase()}`] = c.bmc.password;
    return {
      lab,
      storeDir,
      harnesses,
      install,
      bmcPasswordEnv,
      harness(name) {
        const found = harnesses.get(name);
        if (found === undefined) throw new Error(`no harness of ${name}`);
        return found;
      },
      down,
    };
  } catch (error) {
    return failAfterCleanup(error, down);
  }
}

/**
 * A fixture's start failed: runs its cleanup, adds what was left behind to the error's message,
 * and throws the error.
 */
export async function failAfterCleanup(
  error: unknown,
  cleanup: () => Promise<string[]>,
): Promise<never> {
  const left = await cleanup().catch((e: unknown) => [`cleanup failed: ${String(e)}`]);
  if (left.length > 0 && error instanceof Error)
    error.message += `; left behind: ${left.join(', ')}`;
  throw error;
}
