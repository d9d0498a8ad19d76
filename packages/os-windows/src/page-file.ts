import type { WindowsOsConfig } from './config.js';

/** Where `ClearPageFileAtShutdown` lives: 1 makes Windows zero the page file at every shutdown. */
export const PAGE_FILE_KEY =
  'HKLM:\\SYSTEM\\CurrentControlSet\\Control\\Session Manager\\Memory Management';

/** `ClearPageFileAtShutdown` for a running machine (`postLoad`): 1 only with `clearAtShutdown`. */
export function pageFileValue(config: WindowsOsConfig): '0' | '1' {
  return config.pageFile === 'clearAtShutdown' ? '1' : '0';
}
