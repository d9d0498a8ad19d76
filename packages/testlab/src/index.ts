/**
 * A miniature bare-metal lab on one machine, for vlab's tests: Debian computers with their own raw
 * disks, booted by systemd-nspawn, each behind an ipmi_sim BMC; a deploy environment booted when
 * a BMC's boot flag says PXE; client namespaces on the lab network.
 */
export { type BmcAddress, bmcPower, ipmitool } from './bmc.js';
export { cgroupMode, type GroupMemory } from './cgroups.js';
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
export { cacheDir, labsDir, stateDir } from './paths.js';
export { preflight, requireFreeSpace } from './preflight.js';
