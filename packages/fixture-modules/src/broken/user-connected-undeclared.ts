import { breakOsModule } from './break-module.js';

/**
 * BROKEN on purpose: implements `userConnected` but leaves the `userConnected` feature out of its
 * capabilities, so the manager (which goes by the declaration) never asks it.
 */
export default breakOsModule('os-user-connected-undeclared', (good) => ({
  capabilities: {
    ...good.capabilities,
    features: good.capabilities.features.filter((f) => f !== 'userConnected'),
  },
}));
