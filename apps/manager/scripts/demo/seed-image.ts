import { createOperationContext, type Logger, type ProgressSink, silentLogger } from '@vlab/core';
import { baremetalConfig, createBaremetalProvisioner } from '@vlab/provisioner-baremetal';
import { DEPLOY_DISK_PATH, type Lab, labImageSource } from '@vlab/testlab';
import { LAB_IMAGE } from './lab-config.js';

/**
 * Puts the lab's generic base image into the store at `storeDir` as {@link LAB_IMAGE} revision 1,
 * through the provisioner's `importImage` (the contract's way in for an image made elsewhere).
 * Checks that the store holds what the source holds.
 */
export async function seedLabImage(
  lab: Lab,
  storeDir: string,
  options: {
    readonly progress?: ProgressSink | undefined;
    readonly log?: Logger | undefined;
    readonly signal?: AbortSignal | undefined;
  } = {},
): Promise<void> {
  const seeder = createBaremetalProvisioner(
    baremetalConfig({ store: { path: storeDir }, deployDisk: DEPLOY_DISK_PATH }),
  );
  try {
    const source = await labImageSource(lab, { name: LAB_IMAGE, revision: 1, osFamily: 'linux' });
    if (seeder.importImage === undefined) throw new Error('the provisioner has no importImage');
    const stored = await seeder.importImage(
      createOperationContext({
        log: options.log ?? silentLogger,
        deadline: Date.now() + 600_000,
        signal: options.signal,
        phase: 'seed',
        progress: options.progress,
      }),
      { image: LAB_IMAGE, revision: 1, source },
    );
    if (stored.sha256 !== source.sha256)
      throw new Error(`seeded ${stored.sha256}, the source is ${source.sha256}`);
  } finally {
    await seeder.close?.();
  }
}
