import { imageKey } from '@vlab/core/testing';
import { breakProvisioner } from './break-module.js';
import { machineOf } from './memory-parts.js';

/**
 * BROKEN on purpose: `capture` reserves its temporary entry in the store (`.partial-<image>@<rev>`,
 * empty) before it calls `preCapture`, and removes it only when the capture succeeds: a failed
 * `preCapture` leaves it in the store (hidden from `listImages`, which skips `.partial-` entries).
 * The good provisioner otherwise.
 */
export default breakProvisioner(
  'provisioner-keeps-temporary-after-pre-capture-failure',
  (good, config) => ({
    capture: async (ctx, args) => {
      const { lab } = machineOf(config.lab, ctx);
      const temporary = imageKey(`.partial-${args.image}`, args.newRevision);
      lab.images.set(temporary, { data: Buffer.alloc(0), createdAt: new Date().toISOString() });
      const result = await good.capture(ctx, args);
      lab.images.delete(temporary);
      return result;
    },
  }),
);
