import type { OsModule } from '@vlab/core';
import { breakOsModule } from './break-module.js';

/**
 * BROKEN on purpose: declares `shell: 'bash'`. The communicator speaks `posix` or `powershell`,
 * nothing else, so the manager could never match it.
 */
export default breakOsModule('os-declares-unknown-shell', () => ({
  shell: 'bash' as unknown as OsModule['shell'],
}));
