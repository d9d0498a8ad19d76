import { DBOS } from '@dbos-inc/dbos-sdk';
import type { CaptureMode, UserAccess } from '@vlab/core';
import { type Captured, captureComputer } from './capture-computer.js';
import { ownedWorkflow, processSlot } from './engine.js';
import { type PowerSyncRound, powerSyncRound } from './power-sync.js';
import { prepareComputer } from './prepare-computer.js';
import { type ReclaimResult, reclaimComputer } from './reclaim-computer.js';
import { type ReloadResult, reloadComputer } from './reload-computer.js';
import type { ReservationPlan } from './reservation-plan.js';
import { reservationWorkflow } from './reservation-workflow.js';
import { type RevisionTestResult, testLoad, testRevision } from './revision-test.js';
import { type Outcome, stateStep } from './steps.js';

/** The id of a reservation's workflow: one per reservation, so a repeated start finds it. */
export function reservationWorkflowId(reservationId: string): string {
  return `reservation:${reservationId}`;
}

/** The id of the test-load workflow of an image revision: one per revision. */
export function revisionTestWorkflowId(image: string, revision: number): string {
  return `revision-test:${image}:${revision}`;
}

/** The id of an admin's reload of a computer: one per request. */
export function reloadWorkflowId(computer: string, requestId: string): string {
  return `reload:${computer}:${requestId}`;
}

/** The queue of a provisioner instance's machine workflows. */
export function machineQueueName(provisioner: string): string {
  return `machines:${provisioner}`;
}

/** The manager's workflows, as registered with DBOS. */
export interface Registered {
  readonly reservation: (reservationId: string) => Promise<void>;
  readonly prepare: (
    plan: ReservationPlan,
    reuse: boolean,
  ) => Promise<Outcome<readonly UserAccess[]>>;
  readonly reclaim: (plan: ReservationPlan, guest: boolean) => Promise<ReclaimResult>;
  readonly capture: (
    plan: ReservationPlan,
    mode: CaptureMode,
    into: string | undefined,
  ) => Promise<Outcome<Captured>>;
  readonly testRevision: (image: string, revision: number) => Promise<RevisionTestResult>;
  readonly testLoad: (
    image: string,
    revision: number,
    computer: string,
  ) => Promise<Outcome<string | undefined>>;
  readonly reload: (computer: string, image: string, revision: number) => Promise<ReloadResult>;
  readonly powerSync: (roundAt: number) => Promise<PowerSyncRound>;
}

// Registered once per process (DBOS's registry is one per process), before the first launch.
const slot = processSlot<{ registered: Registered | undefined }>('workflows', () => ({
  registered: undefined,
}));

/** The manager's workflows, registered with DBOS at the first call. */
export function workflows(): Registered {
  slot.registered ??= {
    reservation: DBOS.registerWorkflow(ownedWorkflow(reservationWorkflow), { name: 'reservation' }),
    prepare: DBOS.registerWorkflow(ownedWorkflow(prepareComputer), { name: 'prepare-computer' }),
    reclaim: DBOS.registerWorkflow(ownedWorkflow(reclaimComputer), { name: 'reclaim-computer' }),
    capture: DBOS.registerWorkflow(ownedWorkflow(captureComputer), { name: 'capture-computer' }),
    testRevision: DBOS.registerWorkflow(ownedWorkflow(testRevision), { name: 'revision-test' }),
    testLoad: DBOS.registerWorkflow(ownedWorkflow(testLoad), { name: 'revision-test-load' }),
    reload: DBOS.registerWorkflow(ownedWorkflow(reloadComputer), { name: 'reload-computer' }),
    powerSync: DBOS.registerWorkflow(ownedWorkflow(powerSyncRound), { name: 'power-sync' }),
  };
  return slot.registered;
}

/**
 * Runs a machine workflow as a child, on the computer's partition of its provisioner's queue (one
 * machine workflow per computer at a time), and waits for it. `workflowId` names it uniquely, so a
 * recovered parent finds the child it started.
 */
export async function machineWork<Args extends unknown[], T>(
  scope: { readonly reservationId?: string | undefined; readonly computer: string },
  workflowId: string,
  workflow: (...args: Args) => Promise<T>,
  args: Args,
): Promise<T> {
  const { computer } = scope;
  const provisioner = await stateStep('queue', scope, async (e) => {
    const row = await e.db
      .selectFrom('computers')
      .select('provisioner')
      .where('name', '=', computer)
      .executeTakeFirstOrThrow();
    return row.provisioner;
  });
  const handle = await DBOS.startWorkflow(workflow, {
    workflowID: workflowId,
    queueName: machineQueueName(provisioner),
    enqueueOptions: { queuePartitionKey: computer },
  })(...args);
  return handle.getResult({ pollingIntervalMs: CHILD_POLL_MS });
}

/** How often a parent asks whether its machine workflow finished, in ms (DBOS's default: 1 s). */
const CHILD_POLL_MS = 100;
