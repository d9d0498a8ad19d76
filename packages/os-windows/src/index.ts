/**
 * `@vlab/os-windows`: the Windows OS module of vlab, for Windows Server 2019/2022/2025 and
 * Windows 10/11 guests reached over Windows' OpenSSH with PowerShell. Default-exports the module
 * definition the manager loads; {@link createWindowsOsModule} makes an instance directly (tests,
 * embedding).
 *
 * @packageDocumentation
 */

import { defineOsModule } from '@vlab/core';
import { windowsOsConfigSchema } from './config.js';
import { createWindowsOsModule } from './windows-os-module.js';

export {
  type WindowsAdministratorConfig,
  type WindowsOsConfig,
  type WindowsOsConfigInput,
  windowsOsConfig,
  windowsOsConfigSchema,
} from './config.js';
export {
  RETIRED_WINDOWS_ERROR_CODES,
  WINDOWS_ERROR_CODES,
  type WindowsErrorCode,
  windowsError,
} from './errors.js';
export {
  createWindowsOsModule,
  WINDOWS_END_STATES,
  WINDOWS_FEATURES,
} from './windows-os-module.js';

/** The package version, as the manager reports it. */
const VERSION = '0.0.0';

/**
 * The module definition: `os-windows`, contract `^1.1.0`, config {@link windowsOsConfigSchema}.
 * @public
 */
const windowsOsModule = defineOsModule({
  name: 'os-windows',
  version: VERSION,
  // Contract 1.1: the module declares its shell (powershell), which only 1.1 knows.
  contract: '^1.1.0',
  configSchema: windowsOsConfigSchema,
  create: (config) => createWindowsOsModule(config),
});

export default windowsOsModule;
