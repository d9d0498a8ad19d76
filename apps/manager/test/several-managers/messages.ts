// What the several-managers test and its manager processes say over Node's IPC channel (advanced
// serialization: dates and plain data arrive as they left). Every report of the child waits for
// the test's `ack`: that is where the test holds a manager, or kills it.

/** The manager's API calls the test makes through a child. */
export type ManagerMethod =
  | 'users.add'
  | 'reservations.request'
  | 'reservations.get'
  | 'reservations.capture'
  | 'computers.get'
  | 'images.get'
  | 'events';

/** A point inside a module operation, reported by the observed modules (observed-modules.ts). */
export type ModulePoint =
  /** `provisioner.capture` was called; nothing has happened to the machine yet. */
  | 'capture'
  /** `os.preCapture` returned inside `provisioner.capture`: the guest is generalised and off. */
  | 'preCapture-done';

/** A finished workflow step (the manager's `onStepDone`), before DBOS checkpoints it. */
export interface StepMessage {
  readonly kind: 'step';
  readonly id: number;
  readonly step: string;
  readonly reservationId: string | undefined;
  readonly computer: string | undefined;
  readonly workflowId: string;
}

/** A module point, with the computer and the revision it concerns. */
export interface ModuleMessage {
  readonly kind: 'module';
  readonly id: number;
  readonly point: ModulePoint;
  readonly computer: string;
  readonly image: string;
  readonly revision: number;
}

/** From a manager process to the test. */
export type ChildMessage =
  | StepMessage
  | ModuleMessage
  | { readonly kind: 'ready' }
  | {
      readonly kind: 'log';
      readonly level: string;
      readonly message: string;
      readonly fields: string;
    }
  | {
      readonly kind: 'reply';
      readonly id: number;
      readonly result?: unknown;
      readonly error?: { readonly message: string; readonly code: string | undefined };
    };

/** From the test to a manager process. */
export type ParentMessage =
  | { readonly kind: 'ack'; readonly id: number }
  | {
      readonly kind: 'call';
      readonly id: number;
      readonly method: ManagerMethod;
      readonly args: readonly unknown[];
    }
  | { readonly kind: 'close' };

/** The global through which the observed modules reach the child's IPC channel. */
export const MODULE_HOOK = 'vlab.test.severalManagers.moduleHook';
