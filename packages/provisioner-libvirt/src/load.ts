import {
  coreError,
  type LoadArgs,
  type LoadResult,
  namedStep,
  type ProvisionerContext,
  runSteps,
} from '@vlab/core';
import { ensureMaster, type Master } from './masters.js';
import type { ProvisionerDeps } from './provisioner-deps.js';
import {
  bootVm,
  createOverlay,
  defineDomain,
  discardIdentityDisk,
  dropIdentityDisk,
  leaveOff,
  putIdentityDisk,
  undefineDomain,
} from './vm.js';

/**
 * `load`: refuse a missing revision before touching the VM; remove the VM's old domain; the
 * revision's master on the host (cached, or copied from the store and verified); a fresh overlay
 * on it; fresh host keys on an identity disk, pinned; define and start the domain; wait until the
 * OS answers with those keys; drop the identity disk; end with `postLoad`, once. A failed or
 * aborted load leaves the VM off.
 */
export async function load(
  deps: ProvisionerDeps,
  ctx: ProvisionerContext,
  { image, revision }: LoadArgs,
): Promise<LoadResult> {
  const ref = { name: image, revision };
  if (!(await deps.store.exists(ref, { signal: ctx.signal })))
    throw coreError(
      'VLAB_ERR_IMAGE_NOT_FOUND',
      `cannot load ${image} revision ${revision} onto ${ctx.computer.name}: the store ${deps.store.location} does not hold it`,
      { computer: ctx.computer.name, details: { image, revision, store: deps.store.location } },
    );
  const vm = await deps.vmTarget(ctx);
  const state: { master?: Master } = {};
  const step = namedStep<ProvisionerContext, typeof state>;
  await runSteps(
    ctx,
    [
      step('remove-old-domain', (c) => undefineDomain(c, vm)),
      step('master', async (c, s) => {
        s.master = await ensureMaster(c, vm.hypervisor, deps.store, deps.config, ref);
        c.log.info(s.master.cached ? 'master found on the host' : 'master copied to the host', {
          image,
          revision,
          host: vm.hypervisor.hostName,
        });
      }),
      step('overlay', (c, s) => createOverlay(c, vm, (s.master as Master).path)),
      step(
        'identity-disk',
        (c) => putIdentityDisk(c, vm),
        (c, _s, outcome) => discardIdentityDisk(c, vm, outcome),
      ),
      step('define', (c) => defineDomain(c, vm, { identityDisk: true, oldRemoved: true })),
      step(
        'boot',
        (c) => bootVm(c, vm),
        (c, _s, outcome) => leaveOff(c, vm, outcome),
      ),
      step('identity-disk-off', (c) => dropIdentityDisk(c, vm)),
    ],
    state,
  );
  const { stamp } = await ctx.os.postLoad(ctx.child({ phase: 'postLoad' }));
  return { image, revision, stamp };
}
