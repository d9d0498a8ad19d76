// The `memory-os` and `memory-provisioner` packages of the crash test's install directory: the
// fixture modules' definitions (name, version, contract, config schema; the same capabilities),
// whose every operation is relayed to the lab server outside the manager's process, where the
// real fixture modules run it against the lab. The relay is `globalThis.__vlabCrashRelay`, which
// the manager's child process sets before it starts the manager.

const RELAY = `const relay = (kind, op, ctx, args) => {
  const info = ctx === undefined || ctx === null ? {} : {
    phase: ctx.phase,
    remainingMs: typeof ctx.remainingMs === 'function' ? ctx.remainingMs() : undefined,
    computer: ctx.computer,
    image: ctx.image,
    reservation: ctx.reservation,
  };
  return globalThis.__vlabCrashRelay(kind, op, info, args);
};
const forward = (kind, ops) =>
  Object.fromEntries(ops.map((op) => [op, (ctx, ...args) => relay(kind, op, ctx, args)]));
`;

/** `memory-os`: the OS module's definition and capabilities, its operations relayed. */
export const PROXY_OS_SOURCE = `import { defineOsModule } from '@vlab/core';
import { memoryOsModule as real } from '@vlab/fixture-modules';
${RELAY}
export default defineOsModule({
  name: real.name,
  version: real.version,
  contract: real.contract,
  configSchema: real.configSchema,
  async create(config, deps) {
    // The real module makes no contact at create: its static facts are read from an instance.
    const model = await real.create(config, deps);
    return {
      name: model.name,
      family: model.family,
      shell: model.shell,
      capabilities: model.capabilities,
      ...forward('os', ['postLoad', 'reserve', 'sanitize', 'postReservation', 'preCapture',
        'userConnected', 'isResponding', 'waitForResponse', 'shutdown', 'reboot', 'readStamp']),
      async close() {},
    };
  },
});
`;

/** `memory-provisioner`: the provisioner's definition and capabilities, its operations relayed. */
export const PROXY_PROVISIONER_SOURCE = `import { defineProvisioner } from '@vlab/core';
import { memoryProvisioner as real } from '@vlab/fixture-modules';
${RELAY}
export default defineProvisioner({
  name: real.name,
  version: real.version,
  contract: real.contract,
  configSchema: real.configSchema,
  create() {
    return {
      name: 'provisioner-memory',
      // As the memory provisioner declares them (its create needs the lab, which is elsewhere).
      capabilities: {
        features: ['capture', 'checkpoint', 'powerCycle', 'imageSize', 'deleteImage', 'release'],
        captureEndState: 'off',
        osFamilies: ['linux'],
      },
      ...forward('provisioner', ['load', 'capture', 'powerOn', 'powerOff', 'powerCycle',
        'powerStatus', 'nodeStatus', 'imageExists', 'imageSize', 'listImages', 'deleteImage',
        'release']),
      async close() {},
    };
  },
});
`;

/**
 * A package that taps a real module (`@vlab/os-linux`, `@vlab/provisioner-baremetal`): the same
 * definition, its instance's operations run in the manager's process as usual, each announced to
 * the lab server before it starts and reported once it ended, through
 * `globalThis.__vlabCrashTap` (set by the manager's child process). The machines of the lab
 * computers outlive the manager by nature, so nothing needs relaying; the server keeps the call
 * log and may kill the life at a call's arrival or end.
 */
export function tapSource(kind: 'os' | 'provisioner', realPackage: string): string {
  return `import real from ${JSON.stringify(realPackage)};
const info = (ctx) => ctx === undefined || ctx === null ? {} : {
  phase: ctx.phase,
  remainingMs: typeof ctx.remainingMs === 'function' ? ctx.remainingMs() : undefined,
  computer: ctx.computer,
  image: ctx.image,
  reservation: ctx.reservation,
};
const tapped = (instance) => new Proxy(instance, {
  get(target, key, receiver) {
    const value = Reflect.get(target, key, receiver);
    if (typeof value !== 'function' || typeof key !== 'string' || key === 'close') return value;
    return async (ctx, ...args) => {
      const done = await globalThis.__vlabCrashTap(${JSON.stringify(kind)}, key, info(ctx), args);
      let result;
      try {
        result = await value.call(target, ctx, ...args);
      } catch (error) {
        await done(error);
        throw error;
      }
      await done(undefined);
      return result;
    };
  },
});
export default {
  ...real,
  async create(config, deps) {
    return tapped(await real.create(config, deps));
  },
};
`;
}
