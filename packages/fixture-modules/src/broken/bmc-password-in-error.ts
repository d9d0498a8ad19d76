import { coreError } from '@vlab/core';
import { breakProvisioner } from './break-module.js';

/**
 * BROKEN on purpose: refuses a missing revision with an error whose details carry the BMC
 * connection it would have used — password included — "for debugging".
 */
export default breakProvisioner('provisioner-bmc-password-in-error', (good) => ({
  load: async (ctx, args) => {
    if (!(await good.imageExists(ctx, { name: args.image, revision: args.revision }))) {
      const ref = ctx.computer.credentials['bmc'];
      const password = ref === undefined ? undefined : await ctx.secrets.resolve(ref);
      throw coreError('VLAB_ERR_IMAGE_NOT_FOUND', `no image ${args.image}@${args.revision}`, {
        computer: ctx.computer.name,
        details: { bmc: { user: 'admin', password: password?.reveal() } },
      });
    }
    return good.load(ctx, args);
  },
}));
