import type { UserAccess } from '@vlab/core';
import { updateComputer } from './computer-rows.js';
import { operationScope, osModuleOf, type ReservationPlan } from './reservation-plan.js';
import { reserveUsers, sealPasswords } from './reservation-users.js';
import { moduleStep, type Outcome, stateStep } from './steps.js';

/**
 * The child workflow that makes a computer ready for its reservation, on the computer's queue
 * partition (one machine workflow per computer at a time): check or load the image, then
 * `os.reserve` for the reservation's users.
 *
 * @remarks
 * Its steps and what a re-run of each does:
 * - `node-status` (only when the computer already holds the revision): asks again; harmless.
 * - `load`: loads again. Only a load interrupted before its outcome was checkpointed re-runs; a
 *   completed load is never started again for the same reservation.
 * - `loaded`: writes the same row again.
 * - `seal-passwords`: keeps the passwords sealed the first time (`ON CONFLICT DO NOTHING`).
 * - `taint`: marks the computer tainted again (before `reserve` runs, so a crash inside `reserve`
 *   still reloads the computer before anyone else gets it).
 * - `reserve`: calls `os.reserve` again with the same users and passwords; the contract makes it
 *   idempotent for the same users.
 */
export async function prepareComputer(
  plan: ReservationPlan,
  reuse: boolean,
): Promise<Outcome<readonly UserAccess[]>> {
  const scope = { reservationId: plan.reservationId, computer: plan.computer };
  let loaded = false;
  if (reuse) {
    const status = await moduleStep('node-status', scope, async (current) => {
      const node = await current.access
        .provisioner(plan.computer)
        .nodeStatus(
          await current.access.provisionerContext(
            plan.computer,
            osModuleOf(current, plan.image.osFamily),
            operationScope(current, plan, 'nodeStatus'),
          ),
        );
      return {
        verdict: node.verdict,
        image: node.stamp?.image,
        revision: node.stamp?.revision,
      };
    });
    loaded =
      status.ok &&
      status.value.verdict === 'ready' &&
      status.value.image === plan.image.name &&
      status.value.revision === plan.image.revision;
  }
  if (!loaded) {
    const load = await moduleStep('load', scope, async (current) => {
      await current.access
        .provisioner(plan.computer)
        .load(
          await current.access.provisionerContext(
            plan.computer,
            osModuleOf(current, plan.image.osFamily),
            operationScope(current, plan, 'load'),
          ),
          {
            image: plan.image.name,
            revision: plan.image.revision,
          },
        );
    });
    if (!load.ok) return load;
    await stateStep('loaded', scope, (current) =>
      updateComputer(current.db, plan.computer, {
        loaded_image: plan.image.name,
        loaded_revision: plan.image.revision,
        tainted: false,
      }),
    );
  }

  await sealPasswords(plan);
  await stateStep('taint', scope, (current) =>
    updateComputer(current.db, plan.computer, { tainted: true }),
  );
  return reserveUsers(plan);
}
