import { type CaptureMode, createOperationContext } from '@vlab/core';
import type { NewRevisionTest } from '../database/schema.js';
import { managerError } from '../errors.js';
import { updateComputer } from './computer-rows.js';
import type { Engine } from './engine.js';
import { OPERATION_TIMEOUTS_MS } from './operation-timeouts.js';
import { operationScope, osModuleOf, type ReservationPlan } from './reservation-plan.js';
import { reserveUsers } from './reservation-users.js';
import { moduleStep, type Outcome, stateStep } from './steps.js';

/** The revision a capture made. */
export interface Captured {
  readonly image: string;
  readonly revision: number;
  /** `testing` when the image's new revisions are tested first, else `production`. */
  readonly state: 'testing' | 'production';
  /** How the image's new revisions are tested (`auto`: the manager loads it on a free computer next). */
  readonly test: NewRevisionTest;
}

/** Why a capture that had begun when the manager stopped is not run again. */
export const CAPTURE_INTERRUPTED =
  'the manager stopped while the capture ran; a capture is never started twice: what it wrote was removed';

/**
 * The child workflow that captures the computer of a reservation as a new revision of its image,
 * on the computer's queue partition: the manager checks and asks, the provisioner runs the
 * sequence (it calls `os.preCapture` itself). After a checkpoint the users get their accounts
 * again (`os.reserve`); after an image capture the machine is left as the provisioner left it
 * (off) and the reservation ends.
 *
 * @remarks
 * Its steps and what a re-run of each does:
 * - `capture-plan`: finds the revision it reserved (state `capturing`, captured from this
 *   computer), or reserves the next number.
 * - `post-reservation`: runs again; idempotent by contract.
 * - `capture`: **exactly once**. It records that the capture began before it calls
 *   `provisioner.capture`; a re-run that finds the mark does not call it again: it fails with
 *   {@link CAPTURE_INTERRUPTED}, and `discard` removes what the capture wrote.
 * - `discard`: deletes the revision from the store again (idempotent) and marks it failed.
 * - `publish`: writes the same rows again.
 * - `post-capture-check`: reads the OS module's features again.
 * - `post-capture` (when the OS module declares it), `reserve` (checkpoint): run again;
 *   idempotent by contract.
 */
export async function captureComputer(
  plan: ReservationPlan,
  mode: CaptureMode,
  into: string | undefined,
): Promise<Outcome<Captured>> {
  const scope = { reservationId: plan.reservationId, computer: plan.computer };
  // The image of the new revision: the reservation's, or the one the request named (which the
  // request made an image of the same OS family).
  const image = into ?? plan.image.name;
  const revision = await stateStep('capture-plan', scope, (current) =>
    reserveRevision(current, image, plan.computer),
  );

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
  const target = { ...plan.image, name: image, revision };
  const captured = await moduleStep('capture', scope, async (current) => {
    const marked = await current.db
      .updateTable('revisions')
      .set({ capture_started_at: new Date() })
      .where('image', '=', image)
      .where('revision', '=', revision)
      .where('capture_started_at', 'is', null)
      .returning('revision')
      .executeTakeFirst();
    if (marked === undefined)
      throw managerError('VLAB_ERR_CAPTURE_INTERRUPTED', CAPTURE_INTERRUPTED);
    return current.access
      .provisioner(plan.computer)
      .capture(
        await current.access.provisionerContext(
          plan.computer,
          osModuleOf(current, plan.image.osFamily),
          operationScope(current, plan, 'capture', target),
        ),
        { image, newRevision: revision, mode },
      );
  });

  if (!captured.ok) {
    await moduleStep('discard', scope, async (current) => {
      await current.db
        .updateTable('revisions')
        .set({ state: 'failed', failure: `${captured.code}: ${captured.message}`.slice(0, 2000) })
        .where('image', '=', image)
        .where('revision', '=', revision)
        .execute();
      const ctx = createOperationContext({
        log: current.log,
        deadline: Date.now() + OPERATION_TIMEOUTS_MS.imageExists,
        signal: current.signal,
        phase: 'discard',
      });
      await current.access.provisioner(plan.computer).deleteImage(ctx, { name: image, revision });
    });
    return captured;
  }

  const published = await stateStep(
    'publish',
    scope,
    (current) =>
      current.db.transaction().execute(async (tx): Promise<Captured> => {
        const row = await tx
          .selectFrom('images')
          .select('new_revision_test')
          .where('name', '=', image)
          .executeTakeFirstOrThrow();
        const state = row.new_revision_test === 'off' ? 'production' : 'testing';
        await tx
          .updateTable('revisions')
          .set({
            state,
            sha256: captured.value.sha256,
            size_bytes: captured.value.sizeBytes,
            stored_bytes: captured.value.storedBytes ?? null,
          })
          .where('image', '=', image)
          .where('revision', '=', revision)
          .execute();
        // A checkpoint leaves the new revision running (still the reservation's: tainted); an
        // image capture leaves a generalized machine, which only a load makes usable again.
        await updateComputer(
          tx,
          plan.computer,
          mode === 'checkpoint'
            ? { loaded_image: image, loaded_revision: revision, tainted: true }
            : { loaded_image: null, loaded_revision: null, tainted: true },
        );
        return { image, revision, state, test: row.new_revision_test };
      }),
    (value) => `${value.image} revision ${value.revision} is ${value.state}`,
  );

  const hasPostCapture = await stateStep('post-capture-check', scope, async (current) =>
    osModuleOf(current, plan.image.osFamily).capabilities.features.includes('postCapture'),
  );
  if (hasPostCapture) {
    await moduleStep('post-capture', scope, async (current) => {
      const module = osModuleOf(current, plan.image.osFamily);
      await module.postCapture?.(
        await current.access.osContext(
          plan.computer,
          module,
          operationScope(current, plan, 'postCapture', target),
        ),
      );
    });
  }
  if (mode === 'checkpoint') {
    const again = await reserveUsers(plan);
    if (!again.ok) return again;
  }
  return { ok: true, value: published };
}

/** The revision of `image` this computer's capture reserved, or the next number, reserved now. */
async function reserveRevision(current: Engine, image: string, computer: string): Promise<number> {
  return current.db.transaction().execute(async (tx) => {
    const mine = await tx
      .selectFrom('revisions')
      .select('revision')
      .where('image', '=', image)
      .where('state', '=', 'capturing')
      .where('captured_from', '=', computer)
      .executeTakeFirst();
    if (mine !== undefined) return mine.revision;
    // Serialises the numbering of one image's revisions among managers.
    await tx.selectFrom('images').select('name').where('name', '=', image).forUpdate().execute();
    const last = await tx
      .selectFrom('revisions')
      .select((eb) => eb.fn.max('revision').as('last'))
      .where('image', '=', image)
      .executeTakeFirst();
    const revision = Number(last?.last ?? 0) + 1;
    await tx
      .insertInto('revisions')
      .values({
        image,
        revision,
        state: 'capturing',
        captured_from: computer,
      })
      .execute();
    return revision;
  });
}
