import { coreError } from '@vlab/core';
import { breakProvisioner } from './break-module.js';

/**
 * BROKEN on purpose: `close` ends the BMC sessions, and a second call throws because they are
 * gone, where the contract wants `close` idempotent (the manager may close twice on shutdown).
 */
export default breakProvisioner('provisioner-close-not-idempotent', () => {
  let open = true;
  return {
    close: async () => {
      if (!open)
        throw coreError('VLAB_ERR_COMPUTER_UNREACHABLE', 'the BMC session is already closed');
      open = false;
    },
  };
});
