import { DBOS } from '@dbos-inc/dbos-sdk';
import type { CaptureMode } from '@vlab/core';
import { sql } from 'kysely';
import { type Assignment, assignComputer } from './assign-computer.js';
import { updateComputer } from './computer-rows.js';
import { operationScope, osModuleOf, type ReservationPlan, readPlan } from './reservation-plan.js';
import { moduleStep, stateStep } from './steps.js';
import {
  machineWork,
  reservationWorkflowId,
  revisionTestWorkflowId,
  workflows,
} from './workflow-registry.js';

/** The topic of the messages that end or extend a running reservation. */
export const CONTROL_TOPIC = 'control';

/** A message to a reservation's workflow. */
export type ControlMessage =
  | { readonly kind: 'end'; readonly reason: string }
  /** Its end moved (already written to the database): read it again. */
  | { readonly kind: 'extend' }
  /** Capture its computer (checked by the caller: the reservation is ready, the modules can). */
  | { readonly kind: 'capture'; readonly mode: CaptureMode; readonly image?: string };

/** How often a reservation without a free computer asks again, in seconds. */
export const ASSIGN_RETRY_SECONDS = 5;

/**
 * A reservation's whole life, as one durable workflow: get a computer, have it prepared (load,
 * `os.reserve`), hand it over, wait for the end, have it reclaimed, record the end.
 *
 * @remarks
 * The machine work runs in child workflows on the computer's partition of its provisioner's
 * queue, so one computer never runs two at once, while this workflow's long wait holds no
 * partition. Its own steps and what a re-run of each does:
 * - `assign`: returns the computer already assigned, or assigns one (see `assignComputer`).
 * - `plan`: reads the same reservation again.
 * - `ready`, `ending`, `ended`, `failed`, `computer-failed`: write the same rows again.
 * - `read-end`: reads the end again (a message sent meanwhile is still in the queue).
 * - `user-connected` (until a user is seen, every `connectCheckSeconds`): asks `os.userConnected`
 *   again; it only reads.
 * - `connected`: keeps the first time recorded (`coalesce`).
 * - `workflow-failed` (only when a step threw where none should): writes the same rows again;
 *   the reservation fails and its computer goes to maintenance with the error as the reason.
 */
export async function reservationWorkflow(reservationId: string): Promise<void> {
  try {
    await reservationLife(reservationId);
  } catch (error) {
    // A step that failed where none should (the database refused a write): never leave the
    // reservation hanging. Its computer, if it had one, is in an unknown state.
    const reason =
      `the manager's workflow failed: ${error instanceof Error ? error.message : String(error)}`.slice(
        0,
        2000,
      );
    await stateStep(
      'workflow-failed',
      { reservationId },
      (e) =>
        e.db.transaction().execute(async (tx) => {
          const row = await tx
            .updateTable('reservations')
            .set({ state: 'failed', ended_at: new Date(), end_reason: reason })
            .where('id', '=', reservationId)
            .returning('computer')
            .executeTakeFirst();
          await tx
            .deleteFrom('reservation_secrets')
            .where('reservation_id', '=', reservationId)
            .execute();
          if (row?.computer != null) {
            await updateComputer(tx, row.computer, {
              state: 'maintenance',
              maintenance_reason: reason,
            });
          }
        }),
      () => reason,
    );
  }
}

async function reservationLife(reservationId: string): Promise<void> {
  const scope = { reservationId };
  let assignment: Assignment = await stateStep('assign', scope, (e) =>
    assignComputer(e, reservationId),
  );
  while (assignment.kind === 'wait') {
    const message = await DBOS.recv<ControlMessage>(CONTROL_TOPIC, ASSIGN_RETRY_SECONDS);
    if (message?.kind === 'end') {
      await finish(reservationId, undefined, 'ended', message.reason);
      return;
    }
    assignment = await stateStep('assign', scope, (e) => assignComputer(e, reservationId));
  }
  if (assignment.kind === 'none') {
    await finish(reservationId, undefined, 'failed', assignment.reason);
    return;
  }
  const computerScope = { reservationId, computer: assignment.computer };
  const plan = await stateStep('plan', computerScope, (e) => readPlan(e, reservationId));
  const prepared = await machineWork(
    computerScope,
    `${reservationWorkflowId(reservationId)}:prepare`,
    workflows().prepare,
    [plan, assignment.reuse],
  );
  if (!prepared.ok) {
    // The computer is in an unknown state: it goes to maintenance with the reason, never reused.
    const reason = `preparing ${plan.computer} failed: ${prepared.code}: ${prepared.message}`;
    await stateStep('computer-failed', computerScope, (e) =>
      updateComputer(e.db, plan.computer, {
        state: 'maintenance',
        maintenance_reason: reason.slice(0, 2000),
      }),
    );
    await finish(reservationId, plan.computer, 'failed', reason);
    return;
  }
  await stateStep(
    'ready',
    computerScope,
    (e) =>
      e.db.transaction().execute(async (tx) => {
        const now = new Date();
        // Without `userConnected` nobody can tell: the reservation counts as in use from now.
        const tells = osModuleOf(e, plan.image.osFamily).capabilities.features.includes(
          'userConnected',
        );
        await tx
          .updateTable('reservations')
          .set({
            state: 'ready',
            ready_at: sql<Date>`coalesce(ready_at, ${now})`,
            connected_at: tells ? undefined : sql<Date>`coalesce(connected_at, ${now})`,
          })
          .where('id', '=', reservationId)
          .execute();
        await updateComputer(tx, plan.computer, { state: 'reserved' });
      }),
    () => `ready for ${plan.logins.join(', ')}`,
  );

  // Captures come while it waits: a checkpoint goes on waiting, an image capture ends it.
  let ending: { readonly reason: string; readonly guest: boolean; readonly failed: boolean };
  for (let capture = 1; ; capture += 1) {
    const next = await waitForEnd(plan);
    if (next.kind === 'end') {
      ending = { reason: next.reason, guest: true, failed: false };
      break;
    }
    const captured = await machineWork(
      computerScope,
      `${reservationWorkflowId(reservationId)}:capture-${capture}`,
      workflows().capture,
      [plan, next.mode, next.image],
    );
    if (captured.ok && captured.value.test === 'auto') {
      // The new revision's own workflow; the reservation does not wait for it.
      const { image, revision } = captured.value;
      await DBOS.startWorkflow(workflows().testRevision, {
        workflowID: revisionTestWorkflowId(image, revision),
      })(image, revision);
    }
    if (captured.ok && next.mode === 'checkpoint') continue;
    // The machine is off and generalised (an image capture), or in a state nobody knows (a
    // failed capture): no guest step runs on it any more, only a load.
    ending = captured.ok
      ? {
          reason: `captured as ${captured.value.image} revision ${captured.value.revision} (${captured.value.state})`,
          guest: false,
          failed: false,
        }
      : {
          reason: `capture failed: ${captured.code}: ${captured.message}`,
          guest: false,
          failed: true,
        };
    break;
  }
  const { reason } = ending;
  await stateStep(
    'ending',
    computerScope,
    (e) =>
      e.db.transaction().execute(async (tx) => {
        await tx
          .updateTable('reservations')
          .set({ state: 'ending', end_reason: reason })
          .where('id', '=', reservationId)
          .execute();
        await updateComputer(tx, plan.computer, { state: 'reclaiming' });
      }),
    () => reason,
  );
  await machineWork(
    computerScope,
    `${reservationWorkflowId(reservationId)}:reclaim`,
    workflows().reclaim,
    [plan, ending.guest],
  );
  await finish(reservationId, plan.computer, ending.failed ? 'failed' : 'ended', reason);
}

/** What ends a reservation's wait. */
type WaitResult =
  | { readonly kind: 'end'; readonly reason: string }
  | { readonly kind: 'capture'; readonly mode: CaptureMode; readonly image?: string };

/**
 * Waits until the reservation's end, an end message or a capture request. Until a user is seen
 * connected, it asks the OS module every `connectCheckSeconds`, and ends the reservation when
 * nobody connected within `unusedReclaimMinutes` of its being ready.
 */
async function waitForEnd(plan: ReservationPlan): Promise<WaitResult> {
  const { reservationId, computer } = plan;
  const scope = { reservationId, computer };
  for (;;) {
    const times = await stateStep('read-end', scope, async (e) => {
      const row = await e.db
        .selectFrom('reservations')
        .select(['ends_at', 'ready_at', 'connected_at'])
        .where('id', '=', reservationId)
        .executeTakeFirstOrThrow();
      const { unusedReclaimMinutes, connectCheckSeconds } = e.config.policies.reservation;
      return {
        endsAt: row.ends_at.getTime(),
        // While nobody has connected: when the next ask is due, and when it is too late.
        unusedUntil:
          row.connected_at === null
            ? (row.ready_at ?? row.ends_at).getTime() + unusedReclaimMinutes * 60_000
            : undefined,
        checkEveryMs: connectCheckSeconds * 1000,
        unusedReclaimMinutes,
      };
    });
    const now = await DBOS.now();
    if (times.endsAt <= now) return { kind: 'end', reason: 'its time ran out' };
    if (times.unusedUntil !== undefined && times.unusedUntil <= now) {
      return {
        kind: 'end',
        reason: `nobody connected within ${times.unusedReclaimMinutes} minutes`,
      };
    }
    const wakeAt =
      times.unusedUntil === undefined
        ? times.endsAt
        : Math.min(times.endsAt, times.unusedUntil, now + times.checkEveryMs);
    const message = await DBOS.recv<ControlMessage>(
      CONTROL_TOPIC,
      Math.max(1, Math.ceil((wakeAt - now) / 1000)),
    );
    if (message?.kind === 'end') return { kind: 'end', reason: message.reason };
    if (message?.kind === 'capture') return message;
    if (message === null && times.unusedUntil !== undefined) await checkConnected(plan);
  }
}

/** Asks the OS module whether a user of the reservation is on, and records the first time. */
async function checkConnected(plan: ReservationPlan): Promise<void> {
  const scope = { reservationId: plan.reservationId, computer: plan.computer };
  const asked = await moduleStep('user-connected', scope, async (e) => {
    const os = osModuleOf(e, plan.image.osFamily);
    if (os.userConnected === undefined) return 0;
    const found = await os.userConnected(
      await e.access.osContext(plan.computer, os, operationScope(e, plan, 'userConnected')),
      { users: plan.logins },
    );
    return found.sessions.length;
  });
  if (!asked.ok || asked.value === 0) return;
  await stateStep(
    'connected',
    scope,
    async (e) => {
      await e.db
        .updateTable('reservations')
        .set({ connected_at: sql<Date>`coalesce(connected_at, now())` })
        .where('id', '=', plan.reservationId)
        .execute();
    },
    () => `${asked.value} session(s) of ${plan.logins.join(', ')}`,
  );
}

/** Records the reservation's end; forgets its passwords; frees a computer that was never prepared. */
async function finish(
  reservationId: string,
  computer: string | undefined,
  state: 'ended' | 'failed',
  reason: string,
): Promise<void> {
  await stateStep(
    state,
    { reservationId, computer },
    (e) =>
      e.db.transaction().execute(async (tx) => {
        await tx
          .updateTable('reservations')
          .set({ state, ended_at: new Date(), end_reason: reason })
          .where('id', '=', reservationId)
          .execute();
        await tx
          .deleteFrom('reservation_secrets')
          .where('reservation_id', '=', reservationId)
          .execute();
      }),
    () => reason,
  );
}
