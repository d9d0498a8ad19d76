import type { OsContext } from '../context.js';
import type { OsModule } from '../os-module.js';

/** One call the kit saw a provisioner make into the OS module. */
export interface OsCall {
  readonly operation: string;
  readonly args: unknown;
  readonly startedAt: number;
  endedAt: number | undefined;
  /** Whether it rejected: by the module, or by the kit's injected failure ({@link SpyOptions.failOnce}). */
  failed: boolean;
  /** Whether the kit made it fail without calling the module. */
  readonly injected: boolean;
}

/** How the kit meddles with the calls it spies on. */
export interface SpyOptions {
  /**
   * The first call of `operation` rejects with `error()` at once, without reaching the module
   * (the kit's failure injection); later calls go through.
   */
  readonly failOnce?: { readonly operation: string; readonly error: () => unknown } | undefined;
  /**
   * Runs as each operation starts, before the module does (its synchronous part first, so the kit
   * can abort the caller at that very point); a context it returns replaces the one the module gets.
   */
  readonly onCall?:
    | ((call: OsCall, ctx: OsContext) => OsContext | undefined | Promise<OsContext | undefined>)
    | undefined;
}

/**
 * Wraps an OS module to record the calls a provisioner makes (operation, arguments, start and end
 * time), and, when asked, to fail one of them once or to hook its start. This observes the
 * provisioner, not the machine: the machine is observed through the harness. Calls outside the
 * contract are the guard's business (`os-contract-guard.ts`), which wraps the spy.
 */
export function spyOnOsModule(
  os: OsModule,
  options: SpyOptions = {},
): {
  readonly module: OsModule;
  readonly calls: OsCall[];
} {
  const calls: OsCall[] = [];
  let failOnce = options.failOnce;
  const module = new Proxy(os, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        const operation = String(property);
        const inject = failOnce !== undefined && failOnce.operation === operation;
        const call: OsCall = {
          operation,
          args: args[1],
          startedAt: performance.now(),
          endedAt: undefined,
          failed: false,
          injected: inject,
        };
        calls.push(call);
        try {
          if (inject && failOnce !== undefined) {
            const error = failOnce.error();
            failOnce = undefined;
            throw error;
          }
          const replaced =
            options.onCall === undefined
              ? undefined
              : await options.onCall(call, args[0] as OsContext);
          if (replaced !== undefined) args[0] = replaced;
          return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        } catch (error) {
          call.failed = true;
          throw error;
        } finally {
          call.endedAt = performance.now();
        }
      };
    },
  });
  return { module, calls };
}
