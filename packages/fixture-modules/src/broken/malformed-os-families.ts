import { breakProvisioner } from './break-module.js';

/**
 * BROKEN on purpose: declares `osFamilies: ['Linux']`. Families are lowercase names (`linux`), so
 * `isCompatible` would refuse every OS module (`family: 'linux'`) for it: a declaration that says
 * it can arrange a first contact it will never be asked for.
 */
export default breakProvisioner('provisioner-malformed-os-families', (good) => ({
  capabilities: { ...good.capabilities, osFamilies: ['Linux'] },
}));
