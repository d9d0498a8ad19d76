import type { ComputerContext } from '@vlab/core';
import type { ImageStore } from '@vlab/image-store';
import type { LibvirtConfig } from './config.js';
import type { HypervisorConnections } from './hypervisor.js';
import type { VmTarget } from './vm.js';

/** What one provisioner instance shares between its operations. */
export interface ProvisionerDeps {
  readonly config: LibvirtConfig;
  readonly store: ImageStore;
  readonly hosts: HypervisorConnections;
  /** The computer's VM, its host and the config, for one operation. */
  vmTarget(ctx: ComputerContext): Promise<VmTarget>;
}
