import { DBOS } from '@dbos-inc/dbos-sdk';
import { updateComputer } from './computer-rows.js';
import { stateStep } from './steps.js';
import { machineWork, workflows } from './workflow-registry.js';

/** The event a reload workflow sets once it knows whether it holds the computer. */
export const RELOAD_CLAIM_EVENT = 'claim';

/** What a reload's claim found: it holds the computer, or why not. */
export type ReloadClaim =
  | { readonly claimed: true }
  | { readonly claimed: false; readonly reason: string };

/** How an admin's reload ended. */
export interface ReloadResult {
  readonly state: 'available' | 'maintenance' | 'refused';
  /** Why it is in maintenance, or why the reload was refused. */
  readonly reason: string | undefined;
}

/**
 * An admin's reload: loads `image` revision `revision` on `computer`, checks the stamp, and makes
 * the computer `available` holding it untainted. A computer in maintenance comes out of it when
 * the reload passes; a failed reload puts it (back) in maintenance with the reason.
 *
 * @remarks
 * Its steps and what a re-run of each does:
 * - `reload-claim`: takes the computer when it is `available` or in maintenance, marking it
 *   `loading` with this workflow's id; a re-run finds its own mark and claims again. The answer is
 *   published as the event `claim`, which the caller waits for.
 * - the child workflow `:load` on the computer's partition: the steps of a revision's test load
 *   (`test-plan`, `load`, `node-status`; see `testLoad`).
 * - `reload-done`: writes the same row again.
 */
export async function reloadComputer(
  computer: string,
  image: string,
  revision: number,
): Promise<ReloadResult> {
  const workflowId = DBOS.workflowID ?? '';
  const scope = { computer };
  const claim = await stateStep(
    'reload-claim',
    scope,
    async (e): Promise<ReloadClaim> => {
      const row = await e.db
        .updateTable('computers')
        .set({ state: 'loading', reload_request: workflowId, updated_at: new Date() })
        .where('name', '=', computer)
        .where((w) =>
          w.or([
            w('state', 'in', ['available', 'maintenance']),
            w('reload_request', '=', workflowId),
          ]),
        )
        .returning('name')
        .executeTakeFirst();
      if (row !== undefined) return { claimed: true };
      const now = await e.db
        .selectFrom('computers')
        .select('state')
        .where('name', '=', computer)
        .executeTakeFirst();
      return { claimed: false, reason: `computer ${computer} is ${now?.state ?? 'unknown'}` };
    },
    (result) => (result.claimed ? 'claimed' : result.reason),
  );
  await DBOS.setEvent(RELOAD_CLAIM_EVENT, claim);
  if (!claim.claimed) return { state: 'refused', reason: claim.reason };

  const loaded = await machineWork(scope, `${workflowId}:load`, workflows().testLoad, [
    image,
    revision,
    computer,
  ]);
  const failure = loaded.ok
    ? loaded.value
    : `reload with ${image} revision ${revision} failed: ${loaded.code}: ${loaded.message}`;
  return stateStep(
    'reload-done',
    scope,
    async (e): Promise<ReloadResult> => {
      await updateComputer(
        e.db,
        computer,
        failure === undefined
          ? {
              state: 'available',
              reload_request: null,
              loaded_image: image,
              loaded_revision: revision,
              tainted: false,
              failed_checks: 0,
            }
          : {
              state: 'maintenance',
              reload_request: null,
              maintenance_reason: failure.slice(0, 2000),
              loaded_image: null,
              loaded_revision: null,
            },
      );
      const row = await e.db
        .selectFrom('computers')
        .select(['state', 'maintenance_reason'])
        .where('name', '=', computer)
        .executeTakeFirstOrThrow();
      return row.state === 'maintenance'
        ? { state: 'maintenance', reason: row.maintenance_reason ?? undefined }
        : { state: 'available', reason: undefined };
    },
    (result) =>
      result.state === 'available'
        ? `available with ${image} revision ${revision}`
        : `in maintenance: ${result.reason ?? ''}`,
  );
}
