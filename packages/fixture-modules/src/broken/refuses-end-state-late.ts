import { coreError } from '@vlab/core';
import { breakOsModule } from './break-module.js';

/**
 * BROKEN on purpose: offers only the end state 'off', and checks the end state only after it
 * has begun to generalize (the host key is already gone when it refuses 'on').
 */
export default breakOsModule('os-refuses-end-state-late', (good) => ({
  capabilities: { ...good.capabilities, endStates: ['off'] },
  preCapture: async (ctx, args) => {
    await ctx.communicator.runChecked(
      ['rm', '-f', '/etc/ssh/ssh_host_ed25519_key', '/etc/ssh/ssh_host_ed25519_key.pub'],
      { signal: ctx.signal },
    );
    if ((args.endState ?? 'off') !== 'off')
      throw coreError('VLAB_ERR_CAPABILITY_MISSING', `end state ${args.endState} is not offered`, {
        computer: ctx.computer.name,
      });
    return good.preCapture(ctx, args);
  },
}));
