/**
 * `@vlab/provisioner-libvirt`: vlab's provisioning module for virtual computers — VMs on KVM/QEMU
 * hosts reached over SSH (`@vlab/ssh`), driven with `virsh` and `qemu-img` there, first contact
 * through contract 1.1's identity disk, images in an `@vlab/image-store` directory with a cache
 * of master images on each host. Default-exports the module definition the manager loads;
 * {@link createLibvirtProvisioner} makes an instance directly.
 *
 * @packageDocumentation
 */

import { defineProvisioner } from '@vlab/core';
import { libvirtConfigSchema } from './config.js';
import { createLibvirtProvisioner } from './libvirt-provisioner.js';

export {
  type LibvirtConfig,
  type LibvirtConfigInput,
  type LibvirtHostConfig,
  type LibvirtHostConfigInput,
  libvirtConfig,
  libvirtConfigSchema,
} from './config.js';
export { FW_CFG_NET } from './domain-xml.js';
export {
  LIBVIRT_ERROR_CODES,
  type LibvirtErrorCode,
  libvirtError,
  RETIRED_LIBVIRT_ERROR_CODES,
} from './errors.js';
export { createLibvirtProvisioner } from './libvirt-provisioner.js';
export { type VmFacts, vmFacts } from './vm-facts.js';

/** The package version, as the manager reports it. */
const VERSION = '0.0.0';

/**
 * The module definition: `provisioner-libvirt`, contract `^1.1.0`, config {@link libvirtConfigSchema}.
 * @public
 */
const libvirtProvisioner = defineProvisioner({
  name: 'provisioner-libvirt',
  version: VERSION,
  contract: '^1.1.0',
  configSchema: libvirtConfigSchema,
  create: (config, deps) => createLibvirtProvisioner(config, deps),
});

export default libvirtProvisioner;
