import type { ImageStore } from '@vlab/image-store';
import type { BmcSessions } from './bmc-sessions.js';
import type { BaremetalConfig } from './config.js';

/** What one provisioner instance shares between its operations. */
export interface ProvisionerDeps {
  readonly config: BaremetalConfig;
  readonly store: ImageStore;
  readonly bmcs: BmcSessions;
}
