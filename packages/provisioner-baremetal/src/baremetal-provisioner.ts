import {
  type ComputerContext,
  type ModuleDeps,
  nodeStatusFromPower,
  type Provisioner,
} from '@vlab/core';
import { ImageStore, storedImage } from '@vlab/image-store';
import { BmcSessions } from './bmc-sessions.js';
import { capture } from './capture.js';
import { computerFacts } from './computer-facts.js';
import type { BaremetalConfig } from './config.js';
import { load } from './load.js';
import type { ProvisionerDeps } from './provisioner-deps.js';

/**
 * Makes the provisioner: machines through their BMCs (`@vlab/ipmi`) and a PXE-booted deploy
 * environment (`@vlab/ssh`), images in an `@vlab/image-store` directory.
 * @public
 */
export function createBaremetalProvisioner(
  config: BaremetalConfig,
  _deps?: ModuleDeps,
): Provisioner {
  const deps: ProvisionerDeps = {
    config,
    store: ImageStore.local(config.store.path, { transferTimeoutMs: config.timeouts.transferMs }),
    bmcs: new BmcSessions(config),
  };
  const bmcOf = (ctx: ComputerContext) =>
    deps.bmcs.forComputer(ctx, computerFacts(ctx.computer, config));
  const call = (ctx: { readonly signal: AbortSignal }) => ({ signal: ctx.signal });

  return {
    name: 'provisioner-baremetal',
    capabilities: {
      features: ['capture', 'checkpoint', 'powerCycle', 'imageSize', 'deleteImage', 'importImage'],
      captureEndState: 'off',
      // It writes host keys onto an ext2/3/4 root file system before the first boot.
      osFamilies: ['linux'],
    },
    load: (ctx, args) => load(deps, ctx, args),
    capture: (ctx, args) => capture(deps, ctx, args),
    async powerOn(ctx) {
      await (await bmcOf(ctx)).on(ctx.signal);
    },
    async powerOff(ctx) {
      await (await bmcOf(ctx)).off(ctx.signal);
    },
    async powerCycle(ctx) {
      await (await bmcOf(ctx)).cycle(ctx.signal);
    },
    async powerStatus(ctx) {
      return (await bmcOf(ctx)).status(ctx.signal);
    },
    async nodeStatus(ctx) {
      return nodeStatusFromPower(ctx, await (await bmcOf(ctx)).status(ctx.signal));
    },
    imageExists: (ctx, query) => deps.store.exists(query, call(ctx)),
    imageSize: (ctx, ref) => deps.store.size(ref, call(ctx)),
    async listImages(ctx) {
      return (await deps.store.list(call(ctx))).map(storedImage);
    },
    deleteImage: (ctx, ref) => deps.store.delete(ref, call(ctx)),
    async importImage(ctx, args) {
      const manifest = await deps.store.importRaw(args, {
        signal: ctx.signal,
        onProgress: (done) => ctx.progress.report({ done, unit: 'bytes' }),
      });
      return storedImage(manifest);
    },
    async close() {
      await deps.bmcs.close();
    },
  };
}
