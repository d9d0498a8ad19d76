import type { OsModule } from '../os-module.js';

type Fail = (message: string) => never;

/**
 * Who may call each member of the OS module contract: the provisioner (the operations of a load,
 * a capture and `nodeStatus`), only the manager (the reservation's operations, `close`), or nobody
 * (data). Typed against `OsModule`, so a member added to the contract must be placed here.
 */
const OS_MEMBERS = {
  name: 'data',
  family: 'data',
  shell: 'data',
  capabilities: 'data',
  extensions: 'data',
  postLoad: 'provisioner',
  preCapture: 'provisioner',
  isResponding: 'provisioner',
  waitForResponse: 'provisioner',
  shutdown: 'provisioner',
  reboot: 'provisioner',
  readStamp: 'provisioner',
  reserve: 'manager',
  sanitize: 'manager',
  postReservation: 'manager',
  postCapture: 'manager',
  userConnected: 'manager',
  close: 'manager',
} as const satisfies Record<keyof OsModule, 'data' | 'provisioner' | 'manager'>;

/** Names the runtime and test tooling look up on any object (promise resolution, JSON, printing). */
const PROTOCOL_NAMES = new Set([
  'then',
  'toJSON',
  'constructor',
  'inspect',
  'nodeType',
  'asymmetricMatch',
  '$$typeof',
  'prototype',
]);

interface Violation {
  readonly phase: string;
  readonly name: string;
  readonly kind: 'outside' | 'manager' | 'extension';
}

/**
 * What makes the OS module a provisioner receives speak only the contract: every `ctx.os` the kit
 * hands a provisioner is wrapped so that a call of anything the contract does not let a provisioner
 * call — a retired operation (`captureStart`), the OS module's own extensions, the manager's
 * operations (`reserve`, `close`…) — throws, and the check fails naming it, whatever the
 * provisioner did with the error.
 */
export interface OsContractGuard {
  /** `module` as the provisioner gets it in a context of `phase`. */
  wrap(module: OsModule, phase: string): OsModule;
  /** A check body that fails, by name, on any call outside the contract made while it ran. */
  around(body: (fail: Fail) => Promise<void>): (fail: Fail) => Promise<void>;
}

/** Makes the guard of one provisioner's checks. */
export function osContractGuard(): OsContractGuard {
  const violations: Violation[] = [];
  const report = (fail: Fail): void => {
    const first = violations[0];
    if (first === undefined) return;
    const what = {
      outside: 'which is not an operation of the OS module contract',
      manager: 'an OS module operation the contract leaves to the manager',
      extension:
        'an extension the OS module declares, not an operation of the contract: a provisioner calls only the contract',
    }[first.kind];
    fail(`during ${first.phase} the provisioner called ctx.os.${first.name}, ${what}`);
  };
  return {
    wrap(module, phase) {
      const extensions = (): Readonly<Record<string, string>> => module.extensions ?? {};
      return new Proxy(module, {
        get(target, property) {
          if (typeof property === 'symbol') return Reflect.get(target, property);
          const role = Object.hasOwn(OS_MEMBERS, property)
            ? OS_MEMBERS[property as keyof typeof OS_MEMBERS]
            : undefined;
          const value: unknown = Reflect.get(target, property);
          if (role === 'data' || role === 'provisioner') return value;
          if (
            role === undefined &&
            (PROTOCOL_NAMES.has(property) ||
              property.startsWith('@@') ||
              property.startsWith('__') ||
              property in Object.prototype)
          )
            return value;
          // An absent member is trapped too: a provisioner written for another contract calls it.
          if (typeof value !== 'function' && (role === 'manager' || value !== undefined))
            return value;
          const kind: Violation['kind'] =
            role === 'manager'
              ? 'manager'
              : Object.hasOwn(extensions(), property)
                ? 'extension'
                : 'outside';
          return () => {
            violations.push({ phase, name: property, kind });
            throw new Error(
              `ctx.os.${property} is not an OS module operation a provisioner may call (the conformance kit refused it)`,
            );
          };
        },
      });
    },
    around(body) {
      return async (fail) => {
        violations.length = 0;
        try {
          await body(fail);
        } catch (error) {
          report(fail);
          throw error;
        }
        report(fail);
      };
    },
  };
}
