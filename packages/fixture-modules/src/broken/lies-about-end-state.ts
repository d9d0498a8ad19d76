import { defineOsModule, type OsModule } from '@vlab/core';
import memoryOsModule, { memoryOsConfig } from '../memory-os-module.js';

/**
 * BROKEN on purpose: like `ignores-end-state` (`preCapture` always powers off), but it reports the
 * end state it was asked for, so only the machine itself shows the breakage.
 */
export default defineOsModule({
  name: 'os-lies-about-end-state',
  version: '0.0.0',
  contract: '^1.0.0',
  configSchema: memoryOsConfig,
  async create(config, deps): Promise<OsModule> {
    const good = await memoryOsModule.create(config, deps);
    return {
      ...good,
      name: 'os-lies-about-end-state',
      preCapture: async (ctx, { endState, stamp }) => {
        const reached = await good.preCapture(ctx, { stamp });
        return { endState: endState ?? reached.endState };
      },
    };
  },
});
