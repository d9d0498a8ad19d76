/**
 * `@vlab/os-linux`: the Linux OS module of vlab. Default-exports the module definition the
 * manager loads; {@link createLinuxOsModule} makes an instance directly (tests, embedding).
 *
 * @packageDocumentation
 */

import { defineOsModule } from '@vlab/core';
import { linuxOsConfigSchema } from './config.js';
import { createLinuxOsModule } from './linux-os-module.js';

export {
  type LinuxOsConfig,
  type LinuxOsConfigInput,
  linuxOsConfig,
  linuxOsConfigSchema,
} from './config.js';
export { DISTRO_FAMILIES, type DistroFamily, detectDistro } from './distro.js';
export { type ImageFile, identityDiskImageFiles } from './identity-disk.js';
export { createLinuxOsModule, LINUX_END_STATES } from './linux-os-module.js';

/** The package version, as the manager reports it. */
const VERSION = '0.0.0';

/**
 * The module definition: `os-linux`, contract `^1.1.0`, config {@link linuxOsConfigSchema}.
 * @public
 */
const linuxOsModule = defineOsModule({
  name: 'os-linux',
  version: VERSION,
  // Contract 1.1: files are written with the communicator's put as root (sudo), and the module
  // implements userConnected and the identity disk protocol.
  contract: '^1.1.0',
  configSchema: linuxOsConfigSchema,
  create: (config) => createLinuxOsModule(config),
});

export default linuxOsModule;
