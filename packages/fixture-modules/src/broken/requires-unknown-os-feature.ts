import type { OsFeature } from '@vlab/core';
import { breakProvisioner } from './break-module.js';

/**
 * BROKEN on purpose: requires an OS feature the contract does not know (a typo of
 * `identityDisk`), so `isCompatible` would refuse every OS module for it.
 */
export default breakProvisioner('provisioner-requires-unknown-os-feature', (good) => ({
  capabilities: {
    ...good.capabilities,
    requiredOsFeatures: ['identitydisk' as OsFeature],
  },
}));
