import { defineProvisioner, type Provisioner } from '@vlab/core';
import memoryProvisioner, { memoryProvisionerConfig } from '../memory-provisioner.js';

/**
 * BROKEN on purpose: `capture` saves the disk without ever calling `ctx.os.preCapture`, so the
 * image keeps the reservation's accounts, host keys and machine id, and is read while running.
 * The good provisioner, handed an OS module whose `preCapture` is skipped.
 */
export default defineProvisioner({
  name: 'provisioner-never-calls-pre-capture',
  version: '0.0.0',
  contract: '^1.0.0',
  configSchema: memoryProvisionerConfig,
  async create(config, deps): Promise<Provisioner> {
    const good = await memoryProvisioner.create(config, deps);
    return {
      ...good,
      name: 'provisioner-never-calls-pre-capture',
      capture: (ctx, args) => {
        const os = {
          ...ctx.os,
          // Pretends the guest is ready without asking it.
          preCapture: async () => ({ endState: good.capabilities.captureEndState }),
        };
        return good.capture({ ...ctx, os }, args);
      },
    };
  },
});
