import { defineOsModule, type OsModule } from '@vlab/core';
import memoryOsModule, { memoryOsConfig } from '../memory-os-module.js';

/** BROKEN on purpose: `reserve` logs each user's revealed password, then does the good reserve. */
export default defineOsModule({
  name: 'os-logs-password',
  version: '0.0.0',
  contract: '^1.0.0',
  configSchema: memoryOsConfig,
  async create(config, deps): Promise<OsModule> {
    const good = await memoryOsModule.create(config, deps);
    return {
      ...good,
      name: 'os-logs-password',
      reserve: (ctx, args) => {
        for (const user of args.users) {
          ctx.log.info('creating reservation account', {
            login: user.login,
            password: user.password?.reveal(),
          });
        }
        return good.reserve(ctx, args);
      },
    };
  },
});
