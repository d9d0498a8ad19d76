import {
  defineOsModule,
  defineProvisioner,
  type ModuleDeps,
  type OsModule,
  type OsModuleDefinition,
  type Provisioner,
  type ProvisionerDefinition,
} from '@vlab/core';
import memoryOsModule, { memoryOsConfig } from '../memory-os-module.js';
import memoryProvisioner, { memoryProvisionerConfig } from '../memory-provisioner.js';

type MemoryOsConfig = Parameters<typeof memoryOsModule.create>[0];
type MemoryProvisionerConfig = Parameters<typeof memoryProvisioner.create>[0];

/** The good memory OS module with some operations replaced: `override` gets the good instance. */
export function breakOsModule(
  name: string,
  override: (good: OsModule, config: MemoryOsConfig, deps: ModuleDeps) => Partial<OsModule>,
): OsModuleDefinition<MemoryOsConfig> {
  return defineOsModule({
    name,
    version: '0.0.0',
    contract: '^1.1.0',
    configSchema: memoryOsConfig,
    async create(config, deps): Promise<OsModule> {
      const good = await memoryOsModule.create(config, deps);
      return { ...good, name, ...override(good, config, deps) };
    },
  });
}

/** The good memory provisioner with some operations replaced: `override` gets the good instance. */
export function breakProvisioner(
  name: string,
  override: (good: Provisioner, config: MemoryProvisionerConfig) => Partial<Provisioner>,
): ProvisionerDefinition<MemoryProvisionerConfig> {
  return defineProvisioner({
    name,
    version: '0.0.0',
    contract: '^1.1.0',
    configSchema: memoryProvisionerConfig,
    async create(config, deps): Promise<Provisioner> {
      const good = await memoryProvisioner.create(config, deps);
      return { ...good, name, ...override(good, config) };
    },
  });
}
