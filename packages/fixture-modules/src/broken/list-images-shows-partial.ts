import { MemoryLab } from '@vlab/core/testing';
import { breakProvisioner } from './break-module.js';
import { captureWithSteps, withoutCleanup } from './memory-parts.js';

/**
 * BROKEN on purpose: `capture` keeps its temporary copy (`.partial-<image>@<rev>`, "as a cache")
 * after publishing, and `listImages` lists every entry of the store, that one included. The good
 * provisioner otherwise.
 */
export default breakProvisioner('provisioner-list-images-shows-partial', (good, config) => ({
  capture: (ctx, args) =>
    args.mode === 'image'
      ? captureWithSteps(config.lab, ctx, args, (steps) =>
          steps.map((step) => (step.name === 'save-disk' ? withoutCleanup(step) : step)),
        )
      : good.capture(ctx, args),
  listImages: async () => {
    const lab = MemoryLab.find(config.lab);
    return [...lab.images.keys()].flatMap((key) => {
      const at = key.lastIndexOf('@');
      const image = lab.storedImage(key.slice(0, at), Number(key.slice(at + 1)));
      return image === undefined ? [] : [image];
    });
  },
}));
