import { defineOsModule, type OsModule } from '@vlab/core';
import memoryOsModule, { memoryOsConfig } from '../memory-os-module.js';

/**
 * BROKEN on purpose: `reserve` validates logins itself first and refuses a bad one with a plain
 * `Error` (no `VLAB_ERR_` code), so the manager cannot tell a bad request from a crash.
 */
export default defineOsModule({
  name: 'os-throws-uncoded-error',
  version: '0.0.0',
  contract: '^1.0.0',
  configSchema: memoryOsConfig,
  async create(config, deps): Promise<OsModule> {
    const good = await memoryOsModule.create(config, deps);
    return {
      ...good,
      name: 'os-throws-uncoded-error',
      reserve: async (ctx, args) => {
        for (const user of args.users) {
          if (!/^[a-z_][a-z0-9_-]*$/.test(user.login))
            throw new Error(`bad login ${JSON.stringify(user.login)}`);
        }
        return good.reserve(ctx, args);
      },
    };
  },
});
