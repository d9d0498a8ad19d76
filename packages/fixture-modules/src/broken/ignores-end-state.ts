import { defineOsModule, type OsModule } from '@vlab/core';
import memoryOsModule, { memoryOsConfig } from '../memory-os-module.js';

/**
 * BROKEN on purpose: `preCapture` ignores `args.endState` and always does the default (power
 * off), although the module declares `on` and `reboot`. It reports honestly what it did.
 */
export default defineOsModule({
  name: 'os-ignores-end-state',
  version: '0.0.0',
  contract: '^1.0.0',
  configSchema: memoryOsConfig,
  async create(config, deps): Promise<OsModule> {
    const good = await memoryOsModule.create(config, deps);
    return {
      ...good,
      name: 'os-ignores-end-state',
      preCapture: (ctx, { stamp }) => good.preCapture(ctx, { stamp }),
    };
  },
});
