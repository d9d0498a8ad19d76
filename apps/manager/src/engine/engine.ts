import { AsyncLocalStorage } from 'node:async_hooks';
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
  /** Called after each step's work, before DBOS checkpoints its outcome. */
  readonly onStepDone?: StepObserver | undefined;
}

/** A workflow step whose work is done; its outcome is not checkpointed yet. @public */
export interface StepDone {
  /** The step's name (`assign`, `load`, `reserve` …; docs/manager.md lists them). */
  readonly step: string;
  /** The reservation it works for. */
  readonly reservationId: string | undefined;
  /** The computer it works on, when it has one. */
  readonly computer: string | undefined;
}

/**
 * Sees every step of every workflow once its work is done and its event recorded, before DBOS
 * checkpoints its outcome; the step waits for the promise. For tracing, and for fault injection:
 * a manager that stops while an observer holds a step re-runs that step after its restart.
 * @public
 */
export type StepObserver = (step: StepDone) => void | Promise<void>;

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
const owners = processSlot('owners', () => new AsyncLocalStorage<Engine>());

/**
 * The engine a workflow step works for: the one whose runtime ran the workflow (so a workflow
 * left over from a closed manager never acts through the next one started in this process), else
 * the running manager's.
 */
export function engine(): Engine {
  const owner = owners.getStore() ?? slot.engine;
  if (owner === undefined) throw new Error('no manager runs in this process');
  return owner;
}

/** Runs a workflow's body on behalf of the running manager's engine (see {@link engine}). */
export function ownedWorkflow<Args extends unknown[], T>(
  body: (...args: Args) => Promise<T>,
): (...args: Args) => Promise<T> {
  return (...args) => {
    if (slot.engine === undefined) throw new Error('no manager runs in this process');
    return owners.run(slot.engine, () => body(...args));
  };
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
