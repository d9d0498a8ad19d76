/**
 * A miniature bare-metal lab on one machine, for vlab's tests: Debian computers with their own raw
 * disks, booted by systemd-nspawn, each behind an ipmi_sim BMC; a deploy environment booted when
 * a BMC's boot flag says PXE; client namespaces on the lab network.
 */
export { type BmcAddress, bmcPower, ipmitool } from './bmc.js';
export { cgroupMode, type GroupMemory } from './cgroups.js';
export { distinctSecrets } from './distinct-secrets.js';
export { type RunOutput, run, runChecked } from './exec.js';
export {
  createLabHarness,
  LAB_HARNESS_IMAGE,
  type LabHarness,
  type LabHarnessOptions,
} from './harness.js';
export {
  type BaseImage,
  DEFAULT_IMAGE_BYTES,
  DEPLOY_DISK_PATH,
  DEPLOY_HOSTNAME,
  type DeployTree,
  debianMirror,
  ensureBaseImage,
  ensureDeployTree,
  type Suite,
} from './image.js';
export { type LabImage, labImageSource } from './image-source.js';
export type { AcceleratorProbe } from './kvm-probe.js';
export {
  type BootTarget,
  type ComputerStatus,
  cleanStaleLabs,
  downLab,
  Lab,
  LabClient,
  LabComputer,
  type LabLeftovers,
  type LabRecord,
  labLeftovers,
  listLabs,
  openLab,
  opensshArgs,
  type SshOptions,
  type StartLabOptions,
  startLab,
  withMountedImage,
  writeIdentity,
} from './lab.js';
export { LIBVIRT_URI } from './libvirt-daemons.js';
export { type LibvirtHost, type LibvirtHostOptions, startLibvirtHost } from './libvirt-host.js';
export { cacheDir, labsDir, stateDir } from './paths.js';
export { preflight, requireFreeSpace, vmPreflight } from './preflight.js';
export { SSH_BANNER_TIMEOUT_MS, sshBannerSeen } from './ssh-banner.js';
export { listStoreEntries } from './store-entries.js';
export { type DomainType, type VmDomainSpec, vmDomainXml, xmlEscape } from './vm-domain.js';
export {
  DEFAULT_VM_DISK_BYTES,
  type EnsureVmImageOptions,
  ensureVmImage,
  VM_IMAGE_RECIPE,
  VM_NET_FW_CFG,
  type VmImage,
  type VmImageFile,
  type VmInterfaceAddress,
  vmNetConfig,
} from './vm-image.js';
export {
  VM_NET,
  VM_ROUTE_PROTO,
  type VmNetwork,
  vmAddress,
  vmBlackholePresent,
} from './vm-net.js';
