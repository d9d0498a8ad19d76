import { chmod, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { baremetalConfig, createBaremetalProvisioner } from '@vlab/provisioner-baremetal';
import {
  createLabHarness,
  DEPLOY_DISK_PATH,
  type Lab,
  type LabHarness,
  labLeftovers,
  startLab,
} from '@vlab/testlab';
import { type InstallDir, makeInstallDir, WORKSPACE } from '../install-dir.js';
import { LAB_IMAGE, labConfigText } from '../testlab-manager.js';
import type { CrashLabComputers } from './crash-lab.js';
import { tapSource } from './proxy-modules.js';

/**
 * The crash test's lab computers: a testlab (nspawn guests, ipmi_sim BMCs, PXE deploy
 * environment), the store seeded with the lab's base image as `debian-bookworm` revision 1, and
 * an install directory holding the real `@vlab/os-linux` and `@vlab/provisioner-baremetal`
 * behind tapping packages (proxy-modules.ts), which the config names. No manager: the crash
 * test's lives are the managers.
 */
export interface CrashTestlab {
  readonly lab: Lab;
  /** The harness of each computer: to look at the machines from outside, never to drive them. */
  readonly harnesses: ReadonlyMap<string, LabHarness>;
  /** The image store's directory. */
  readonly storeDir: string;
  /** What CrashLab needs to run its lives on these computers. */
  readonly computers: CrashLabComputers;
  harness(name: string): LabHarness;
  /** Every entry below the store directory, hidden ones too, as relative paths. */
  storeEntries(): Promise<string[]>;
  /** Takes the lab down and returns what was left behind (should be `[]`). */
  cleanup(): Promise<string[]>;
}

/** Starts the lab of `computers` (throws, never skips, when it cannot). */
export async function startCrashTestlab(computers: readonly string[]): Promise<CrashTestlab> {
  const harnesses = new Map<string, LabHarness>();
  let lab: Lab | undefined;
  let install: InstallDir | undefined;
  const cleanup = async (): Promise<string[]> => {
    for (const harness of harnesses.values()) await harness.close();
    await install?.remove();
    if (lab === undefined) return [];
    const { id, record } = lab;
    await lab.down();
    return Object.values(await labLeftovers(id, record.blackhole)).flat();
  };
  try {
    lab = await startLab({ computers, clients: 0 });
    const storeDir = join(lab.dir, 'store');
    for (const computer of computers)
      harnesses.set(computer, await createLabHarness(lab, computer, { storeDir }));

    // Seed: the lab's generic base image as revision 1, through the provisioner (the manager
    // finds it in the store when it starts).
    const first = harnesses.get(computers[0] as string) as LabHarness;
    const seeder = createBaremetalProvisioner(
      baremetalConfig({ store: { path: storeDir }, deployDisk: DEPLOY_DISK_PATH }),
    );
    try {
      const source = await first.imageSource?.();
      if (source === undefined || seeder.importImage === undefined)
        throw new Error('the lab harness or the provisioner cannot import the base image');
      await seeder.importImage(first.operationContext({ phase: 'seed', timeoutMs: 600_000 }), {
        image: LAB_IMAGE,
        revision: 1,
        source,
      });
    } finally {
      await seeder.close?.();
    }

    install = await makeInstallDir();
    await chmod(install.dir, 0o711);
    await install.link('@vlab/os-linux', join(WORKSPACE, 'packages/os-linux'));
    await install.link(
      '@vlab/provisioner-baremetal',
      join(WORKSPACE, 'packages/provisioner-baremetal'),
    );
    await install.addPackage('tapped-os-linux', {
      files: { 'index.js': tapSource('os', '@vlab/os-linux') },
    });
    await install.addPackage('tapped-baremetal', {
      files: { 'index.js': tapSource('provisioner', '@vlab/provisioner-baremetal') },
    });
    const configText = labConfigText(lab, storeDir)
      .replace("package: '@vlab/os-linux'", 'package: tapped-os-linux')
      .replace("package: '@vlab/provisioner-baremetal'", 'package: tapped-baremetal');
    if (!configText.includes('tapped-os-linux') || !configText.includes('tapped-baremetal'))
      throw new Error('the lab config names the modules differently now: tap them here too');
    const env: Record<string, string> = {};
    for (const c of lab.computers)
      env[`VLAB_TEST_BMC_PASSWORD_${c.name.toUpperCase()}`] = c.bmc.password;

    const started = lab;
    const installed = install;
    return {
      lab: started,
      harnesses,
      storeDir,
      computers: { install: installed, configText, env },
      harness(name) {
        const found = harnesses.get(name);
        if (found === undefined) throw new Error(`no harness of ${name}`);
        return found;
      },
      async storeEntries() {
        const entries = await readdir(storeDir, { recursive: true }).catch(() => []);
        return entries.map(String).sort();
      },
      cleanup,
    };
  } catch (error) {
    const left = await cleanup().catch((e: unknown) => [`cleanup failed: ${String(e)}`]);
    if (left.length > 0) (error as Error).message += `; left behind: ${left.join(', ')}`;
    throw error;
  }
}
