/**
 * `@vlab/provisioner-baremetal`: vlab's provisioning module for physical computers — power and
 * boot device through their BMCs (IPMI v2.0, `@vlab/ipmi`), disk work from a PXE-booted deploy
 * environment over SSH (`@vlab/ssh`), images in an `@vlab/image-store` directory. Default-exports
 * the module definition the manager loads; {@link createBaremetalProvisioner} makes an instance
 * directly.
 *
 * @packageDocumentation
 */

import { defineProvisioner } from '@vlab/core';
import { createBaremetalProvisioner } from './baremetal-provisioner.js';
import { baremetalConfigSchema } from './config.js';

export { createBaremetalProvisioner } from './baremetal-provisioner.js';
export { type ComputerFacts, computerFacts } from './computer-facts.js';
export {
  type BaremetalConfig,
  type BaremetalConfigInput,
  baremetalConfig,
  baremetalConfigSchema,
} from './config.js';
export {
  BAREMETAL_ERROR_CODES,
  type BaremetalErrorCode,
  baremetalError,
  RETIRED_BAREMETAL_ERROR_CODES,
} from './errors.js';

/** The package version, as the manager reports it. */
const VERSION = '0.0.0';

/**
 * The module definition: `provisioner-baremetal`, contract `^1.1.0`, config {@link baremetalConfigSchema}.
 * @public
 */
const baremetalProvisioner = defineProvisioner({
  name: 'provisioner-baremetal',
  version: VERSION,
  contract: '^1.1.0',
  configSchema: baremetalConfigSchema,
  create: (config, deps) => createBaremetalProvisioner(config, deps),
});

export default baremetalProvisioner;
