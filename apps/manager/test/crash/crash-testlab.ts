import { readdir } from 'node:fs/promises';
import { parseStamp } from '@vlab/core';
import type { Lab } from '@vlab/testlab';
import { failAfterCleanup, type SeededLab, startSeededLab } from '../seeded-lab.js';
import { labConfigText } from '../testlab-manager.js';
import type { CrashLabComputers } from './crash-lab.js';
import type { MachineView } from './invariants.js';
import { tapSource } from './proxy-modules.js';

/**
 * The crash test's lab computers: a seeded lab (seeded-lab.ts) whose install directory also holds
 * packages tapping the real `@vlab/os-linux` and `@vlab/provisioner-baremetal` (proxy-modules.ts),
 * which the config names. No manager: the crash test's lives are the managers.
 */
export interface CrashTestlab {
  readonly lab: Lab;
  /** What CrashLab needs to run its lives on these computers. */
  readonly computers: CrashLabComputers;
  /**
   * The computers as their harnesses see them from outside (never to drive them) and the store's
   * directory, for the invariants of a scenario that captures `image`.
   */
  machines(image: string): MachineView;
  /** Takes the lab down and returns what was left behind (should be `[]`). */
  cleanup(): Promise<string[]>;
}

/** Starts the lab of `computers` (throws, never skips, when it cannot). */
export async function startCrashTestlab(computers: readonly string[]): Promise<CrashTestlab> {
  let seeded: SeededLab | undefined;
  const cleanup = async (): Promise<string[]> => (await seeded?.down()) ?? [];
  try {
    seeded = await startSeededLab(computers, { clients: 0 });
    const { lab, install, storeDir, harness } = seeded;
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
    const entries = async () =>
      (await readdir(storeDir, { recursive: true }).catch(() => [])).map(String);
    return {
      lab,
      computers: { install, configText, env: seeded.bmcPasswordEnv },
      machines: (image) => ({
        image,
        stored: async (revision) =>
          (await entries()).includes(`${image}/${revision}/manifest.json`),
        // A store's temporaries are hidden (`.3.reserved`, `.3.partial/…`, `.3.trash-…`).
        leftovers: async () =>
          (await entries()).filter((entry) => entry.split('/').some((p) => p.startsWith('.'))),
        stamp: async (name) => {
          const text = (await harness(name).readFile(harness(name).stampPath))?.toString('utf8');
          return text === undefined ? undefined : parseStamp(text, name);
        },
        notRunning: async (name) => {
          const power = await harness(name).power();
          if (power !== 'on') return `its power is ${power}`;
          if (await harness(name).answering?.()) return undefined;
          return `its OS does not answer (booted: ${lab.computer(name).booted()})`;
        },
      }),
      cleanup,
    };
  } catch (error) {
    return failAfterCleanup(error, cleanup);
  }
}
