export { default as memoryOsModule, memoryOsConfig } from './memory-os-module.js';
export { default as memoryProvisioner, memoryProvisionerConfig } from './memory-provisioner.js';
