import type { OsModule } from '../os-module.js';

/** One call the kit saw a provisioner make into the OS module. */
export interface OsCall {
  readonly operation: string;
  readonly args: unknown;
  readonly startedAt: number;
  endedAt: number | undefined;
}

/**
 * Wraps an OS module to record the calls a provisioner makes (operation, arguments, start and end
 * time). This observes the provisioner, not the machine: the machine is observed through the harness.
 */
export function spyOnOsModule(os: OsModule): {
  readonly module: OsModule;
  readonly calls: OsCall[];
} {
  const calls: OsCall[] = [];
  const module = new Proxy(os, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        const call: OsCall = {
          operation: String(property),
          args: args[1],
          startedAt: performance.now(),
          endedAt: undefined,
        };
        calls.push(call);
        try {
          return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        } finally {
          call.endedAt = performance.now();
        }
      };
    },
  });
  return { module, calls };
}
