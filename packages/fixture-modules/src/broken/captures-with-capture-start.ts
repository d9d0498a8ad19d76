import { defineOsModule, type OsContext } from '@vlab/core';
import memoryOsModule, { memoryOsConfig } from '../memory-os-module.js';

/**
 * BROKEN on purpose: the instance brings back the retired OS "capture start" as an undeclared
 * operation, `captureStart`, beside the contract's `preCapture`. Contract 1.1 allows operations
 * beyond the contract only when declared in `extensions`; `instantiateOsModule` refuses this one
 * and the kit's `os/declared-extensions` fails it.
 */
export default defineOsModule({
  name: 'os-captures-with-capture-start',
  version: '0.0.0',
  contract: '^1.1.0',
  configSchema: memoryOsConfig,
  async create(config, deps) {
    const good = await memoryOsModule.create(config, deps);
    const instance = {
      ...good,
      name: 'os-captures-with-capture-start',
      async captureStart(ctx: OsContext): Promise<void> {
        await good.preCapture(ctx, { stamp: { image: 'x', revision: 1 } });
      },
    };
    return instance;
  },
});
