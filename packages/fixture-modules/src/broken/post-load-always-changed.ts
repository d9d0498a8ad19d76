import { defineOsModule, type OsModule } from '@vlab/core';
import memoryOsModule, { memoryOsConfig } from '../memory-os-module.js';

/**
 * BROKEN on purpose: `postLoad` says `changed: true` even when it changed nothing (a repeated
 * call), so the manager cannot tell a fresh load from a retry.
 */
export default defineOsModule({
  name: 'os-post-load-always-changed',
  version: '0.0.0',
  contract: '^1.0.0',
  configSchema: memoryOsConfig,
  async create(config, deps): Promise<OsModule> {
    const good = await memoryOsModule.create(config, deps);
    return {
      ...good,
      name: 'os-post-load-always-changed',
      postLoad: async (ctx) => ({ ...(await good.postLoad(ctx)), changed: true }),
    };
  },
});
