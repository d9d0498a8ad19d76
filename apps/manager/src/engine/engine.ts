import type { Logger } from '@vlab/core';
import type { Kysely } from 'kysely';
import type { ManagerConfig } from '../config/manager-config.js';
import type { LabDatabase } from '../database/schema.js';
import { managerError } from '../errors.js';
import type { SecretKey } from '../secrets/secret-box.js';
import type { ComputerAccess } from './computer-access.js';

/**
 * What the workflows work with. DBOS runs registered functions, not objects, so the running
 * manager's engine is one per process, reached through {@link engine}.
 */
export interface Engine {
  readonly config: ManagerConfig;
  readonly db: Kysely<LabDatabase>;
  readonly access: ComputerAccess;
  /** Seals the passwords the manager generates before they reach the database. */
  readonly key: SecretKey;
  readonly log: Logger;
  /** Fires when the manager closes: the modules' operations stop. */
  readonly signal: AbortSignal;
  /** True once the manager began to close: from then on, no step's outcome is recorded. */
  readonly closing: boolean;
}

/**
 * A value kept once per process under `name`, even when two copies of the manager's code are
 * loaded (a test's module graph beside a native import): DBOS itself is one per process.
 */
export function processSlot<T extends object>(name: string, init: () => T): T {
  const store = globalThis as Record<symbol, unknown>;
  const key = Symbol.for(`vlab.manager.${name}`);
  if (store[key] === undefined) store[key] = init();
  return store[key] as T;
}

const slot = processSlot<{ engine: Engine | undefined }>('engine', () => ({ engine: undefined }));

/** The running manager's engine; a workflow step calls it. */
export function engine(): Engine {
  if (slot.engine === undefined) throw new Error('no manager runs in this process');
  return slot.engine;
}

/** Makes `value` the process's engine; refuses a second manager in one process. */
export function installEngine(value: Engine): void {
  if (slot.engine !== undefined) {
    throw managerError(
      'VLAB_ERR_MANAGER_RUNNING',
      `a manager of lab ${slot.engine.config.lab} already runs in this process (pid ${process.pid})`,
    );
  }
  slot.engine = value;
}

/** Forgets the engine (after the workflow runtime stopped). */
export function removeEngine(value: Engine): void {
  if (slot.engine === value) slot.engine = undefined;
}
