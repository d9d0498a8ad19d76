import {
  coreError,
  type LoadArgs,
  type LoadResult,
  namedStep,
  type ProvisionerContext,
  runSteps,
} from '@vlab/core';
import { computerFacts } from './computer-facts.js';
import { DeployEnvironment } from './deploy-environment.js';
import { writeImage } from './disk-transfer.js';
import { putHostKey } from './host-key.js';
import { bootDeployEnvironment, bootInstalledOs, leaveOff } from './machine-boot.js';
import type { ProvisionerDeps } from './provisioner-deps.js';

/**
 * `load`: refuse a missing revision before touching the machine; PXE-boot the deploy
 * environment; write and verify the image; put and pin a fresh host key; boot the disk; wait
 * until the OS answers; end with `postLoad`, once. A failed or aborted load leaves the machine
 * powered off.
 */
export async function load(
  deps: ProvisionerDeps,
  ctx: ProvisionerContext,
  { image, revision }: LoadArgs,
): Promise<LoadResult> {
  const { config, store } = deps;
  const facts = computerFacts(ctx.computer, config);
  const ref = { name: image, revision };
  if (!(await store.exists(ref, { signal: ctx.signal })))
    throw coreError(
      'VLAB_ERR_IMAGE_NOT_FOUND',
      `cannot load ${image} revision ${revision} onto ${facts.name}: the store ${store.location} does not hold it`,
      { computer: facts.name, details: { image, revision, store: store.location } },
    );
  const bmc = await deps.bmcs.forComputer(ctx, facts);
  const env = await DeployEnvironment.open(ctx, facts);
  try {
    const target = { computer: facts.name, env, disk: facts.deploy.disk, config };
    await runSteps(
      ctx,
      [
        namedStep<ProvisionerContext, object>(
          'boot-deploy',
          (c) => bootDeployEnvironment(c, bmc, env, config),
          // A load that did not finish leaves the machine off: a known state, not half an image.
          (c, _s, outcome) => leaveOff(bmc, c.signal, outcome),
        ),
        namedStep('write-image', async (c) => {
          await writeImage(c, target, await store.read(ref, { signal: c.signal }));
        }),
        namedStep('host-key', (c) => putHostKey(c, env, facts.deploy.rootFileSystem)),
        namedStep('boot-disk', (c) => bootInstalledOs(c, bmc, env, config)),
      ],
      {},
    );
  } finally {
    await env[Symbol.asyncDispose]();
  }
  const { stamp } = await ctx.os.postLoad(ctx.child({ phase: 'postLoad' }));
  return { image, revision, stamp };
}
