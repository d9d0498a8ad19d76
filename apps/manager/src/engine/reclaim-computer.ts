import type { ImageRef } from '@vlab/core';
import { sql } from 'kysely';
import { updateComputer } from './computer-rows.js';
import type { Engine } from './engine.js';
import { operationScope, osModuleOf, type ReservationPlan } from './reservation-plan.js';
import { moduleStep, stateStep } from './steps.js';

/** How a reclaim left the computer. */
export interface ReclaimResult {
  /** `available` (loaded with `preloaded`, or tainted when preload is off) or `maintenance`. */
  readonly state: 'available' | 'maintenance';
  readonly preloaded: ImageRef | undefined;
  /** Why it is in maintenance: its reload failed, or an admin asked while it was reserved. */
  readonly reason: string | undefined;
}

/**
 * The child workflow that takes a computer back after its reservation, on the computer's queue
 * partition: `os.postReservation`, `os.sanitize`, then (policy `preload`) a reload with the
 * production revision of the image most reserved on it, so the next reservation starts at once.
 * Without `guest` (the machine is off after an image capture, or nobody knows its state after a
 * failed one) the guest steps are skipped: only a load makes it usable.
 *
 * @remarks
 * Its steps and what a re-run of each does:
 * - `post-reservation`, `sanitize`: run again; both are idempotent by contract. A failure is
 *   recorded and the reclaim goes on: the reload (or the taint, without preload) wipes what they
 *   left.
 * - `choose-preload`: reads again (the same answer unless reservations ended meanwhile). No
 *   preload when an admin asked for maintenance meanwhile: the computer goes there instead.
 * - `reload`: loads again (only an interrupted load re-runs).
 * - `release`: writes the same row again.
 *
 * A failed reload puts the computer in maintenance with the error as the reason, never silently.
 */
export async function reclaimComputer(
  plan: ReservationPlan,
  guest: boolean,
): Promise<ReclaimResult> {
  const scope = { reservationId: plan.reservationId, computer: plan.computer };
  if (guest) await guestSteps(plan);
  const preload = await stateStep('choose-preload', scope, (current) =>
    current.config.policies.preload ? preloadImage(current, plan) : Promise.resolve(undefined),
  );
  let failure: string | undefined;
  if (preload !== undefined) {
    const reload = await moduleStep('reload', scope, async (current) => {
      await current.access
        .provisioner(plan.computer)
        .load(
          await current.access.provisionerContext(
            plan.computer,
            osModuleOf(current, preload.osFamily),
            operationScope(current, plan, 'load', preload),
          ),
          { image: preload.name, revision: preload.revision },
        );
    });
    if (!reload.ok)
      failure = `reload with ${preload.name} revision ${preload.revision} failed: ${reload.code}: ${reload.message}`;
  }

  return stateStep(
    'release',
    scope,
    async (current): Promise<ReclaimResult> => {
      if (failure !== undefined) {
        await updateComputer(current.db, plan.computer, {
          state: 'maintenance',
          maintenance_reason: failure.slice(0, 2000),
          loaded_image: null,
          loaded_revision: null,
        });
        return { state: 'maintenance', preloaded: undefined, reason: failure };
      }
      await updateComputer(
        current.db,
        plan.computer,
        preload === undefined
          ? { state: 'available' }
          : {
              state: 'available',
              loaded_image: preload.name,
              loaded_revision: preload.revision,
              tainted: false,
            },
      );
      // `available` unless an admin's maintenance request was waiting for it.
      const row = await current.db
        .selectFrom('computers')
        .select(['state', 'maintenance_reason'])
        .where('name', '=', plan.computer)
        .executeTakeFirstOrThrow();
      return row.state === 'maintenance'
        ? { state: 'maintenance', preloaded: undefined, reason: row.maintenance_reason ?? '' }
        : { state: 'available', preloaded: preload, reason: undefined };
    },
    (result) =>
      result.state === 'maintenance'
        ? `in maintenance: ${result.reason ?? ''}`
        : result.preloaded === undefined
          ? 'available (tainted: the next reservation reloads it)'
          : `available with ${result.preloaded.name} revision ${result.preloaded.revision}`,
  );
}

/**
 * The production revision of the image reserved most often on the computer (ties: the most
 * recent), or of the reservation's image when none of those has one in production.
 */
async function preloadImage(current: Engine, plan: ReservationPlan): Promise<ImageRef | undefined> {
  const computer = await current.db
    .selectFrom('computers')
    .select('maintenance_requested')
    .where('name', '=', plan.computer)
    .executeTakeFirstOrThrow();
  if (computer.maintenance_requested !== null) return undefined;
  const ranked = await current.db
    .selectFrom('reservations')
    .select(['image', sql<number>`count(*)`.as('uses'), sql<Date>`max(created_at)`.as('last')])
    .where('computer', '=', plan.computer)
    .groupBy('image')
    .orderBy('uses', 'desc')
    .orderBy('last', 'desc')
    .execute();
  for (const name of [...ranked.map((r) => r.image), plan.image.name]) {
    const row = await current.db
      .selectFrom('revisions')
      .innerJoin('images', 'images.name', 'revisions.image')
      .select(['revisions.revision', 'images.os_family'])
      .where('revisions.image', '=', name)
      .where('revisions.state', '=', 'production')
      .orderBy('revisions.revision', 'desc')
      .executeTakeFirst();
    if (row !== undefined && current.access.osModule(row.os_family) !== undefined) {
      return { name, revision: row.revision, osFamily: row.os_family };
    }
  }
  return undefined;
}

/** `os.postReservation` and `os.sanitize`: a failure is recorded and the reclaim goes on. */
async function guestSteps(plan: ReservationPlan): Promise<void> {
  const scope = { reservationId: plan.reservationId, computer: plan.computer };
  await moduleStep('post-reservation', scope, async (current) => {
    const os = osModuleOf(current, plan.image.osFamily);
    await os.postReservation(
      await current.access.osContext(
        plan.computer,
        os,
        operationScope(current, plan, 'postReservation'),
      ),
    );
  });
  await moduleStep('sanitize', scope, async (current) => {
    const os = osModuleOf(current, plan.image.osFamily);
    await os.sanitize(
      await current.access.osContext(plan.computer, os, operationScope(current, plan, 'sanitize')),
    );
  });
}
