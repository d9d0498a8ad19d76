import { DBOS } from '@dbos-inc/dbos-sdk';
import type { ImageRef } from '@vlab/core';
import { updateComputer } from './computer-rows.js';
import type { Engine } from './engine.js';
import { OPERATION_TIMEOUTS_MS } from './operation-timeouts.js';
import { osModuleOf } from './reservation-plan.js';
import { moduleStep, type Outcome, stateStep } from './steps.js';
import { machineWork, revisionTestWorkflowId, workflows } from './workflow-registry.js';

/** How a revision's test load ended. */
export interface RevisionTestResult {
  readonly state: 'production' | 'failed';
  /** The computer it was loaded on. */
  readonly computer: string;
  /** Why it failed. */
  readonly failure: string | undefined;
}

/** How often a test load without a free computer asks again, in seconds. */
const TEST_ASSIGN_RETRY_SECONDS = 5;

/**
 * Proves a new revision before it serves: loads it on a free computer of the provisioner instance
 * whose store holds it (that of the computer it was captured from), checks that `postLoad`
 * ran, that `nodeStatus` says `ready` and that the stamp names the revision, then marks it
 * `production`. A failure marks it `failed` with the reason; the previous production revision
 * goes on serving. The computer is then free, holding the new revision untainted when it passed
 * (so the next reservation of it starts without a load).
 *
 * @remarks
 * Its steps and what a re-run of each does:
 * - `test-assign`: returns the computer already chosen for this revision (`test_computer`), or
 *   chooses one and marks it `loading`.
 * - `test-load` (child workflow, on the computer's partition): steps `load` (loads again; only an
 *   interrupted load re-runs) and `node-status` (asks again).
 * - `test-verdict`: writes the same rows again.
 */
export async function testRevision(image: string, revision: number): Promise<RevisionTestResult> {
  let computer = await stateStep('test-assign', {}, (e) => assignTestComputer(e, image, revision));
  while (computer === undefined) {
    await DBOS.sleep(TEST_ASSIGN_RETRY_SECONDS * 1000);
    computer = await stateStep('test-assign', {}, (e) => assignTestComputer(e, image, revision));
  }
  const scope = { computer };
  const loaded = await machineWork(
    scope,
    `${revisionTestWorkflowId(image, revision)}:load`,
    workflows().testLoad,
    [image, revision, computer],
  );
  const failure = loaded.ok
    ? loaded.value
    : `the test load failed: ${loaded.code}: ${loaded.message}`;
  const on = computer;
  return stateStep(
    'test-verdict',
    scope,
    (e) =>
      e.db.transaction().execute(async (tx): Promise<RevisionTestResult> => {
        await tx
          .updateTable('revisions')
          .set(
            failure === undefined
              ? { state: 'production' }
              : { state: 'failed', failure: failure.slice(0, 2000) },
          )
          .where('image', '=', image)
          .where('revision', '=', revision)
          .execute();
        // A load that failed leaves the computer in a state nobody knows: maintenance, as after
        // any failed load. A revision that loaded but did not pass leaves it merely tainted.
        await updateComputer(
          tx,
          on,
          failure === undefined
            ? { state: 'available', loaded_image: image, loaded_revision: revision, tainted: false }
            : loaded.ok
              ? { state: 'available', tainted: true }
              : {
                  state: 'maintenance',
                  maintenance_reason:
                    `test load of ${image} revision ${revision}: ${failure}`.slice(0, 2000),
                  loaded_image: null,
                  loaded_revision: null,
                },
        );
        return { state: failure === undefined ? 'production' : 'failed', computer: on, failure };
      }),
    (result) =>
      `${image} revision ${revision}: ${result.state}${result.failure === undefined ? '' : ` (${result.failure})`}`,
  );
}

/**
 * The test load itself, on the computer's partition: `provisioner.load`, then `nodeStatus`.
 * Resolves with `undefined` when the revision passed, else with what is wrong.
 */
export async function testLoad(
  image: string,
  revision: number,
  computer: string,
): Promise<Outcome<string | undefined>> {
  const scope = { computer };
  const ref = await stateStep('test-plan', scope, async (e): Promise<ImageRef> => {
    const row = await e.db
      .selectFrom('images')
      .select('os_family')
      .where('name', '=', image)
      .executeTakeFirstOrThrow();
    return { name: image, revision, osFamily: row.os_family };
  });
  const operation = (e: Engine, phase: 'load' | 'nodeStatus') => ({
    phase,
    timeoutMs: OPERATION_TIMEOUTS_MS[phase],
    signal: e.signal,
    image: ref,
  });
  const load = await moduleStep('load', scope, async (e) => {
    const result = await e.access
      .provisioner(computer)
      .load(
        await e.access.provisionerContext(
          computer,
          osModuleOf(e, ref.osFamily),
          operation(e, 'load'),
        ),
        { image, revision },
      );
    return { stampRevision: result.stamp.revision, stampState: result.stamp.state };
  });
  if (!load.ok) return load;
  return moduleStep('node-status', scope, async (e) => {
    const node = await e.access
      .provisioner(computer)
      .nodeStatus(
        await e.access.provisionerContext(
          computer,
          osModuleOf(e, ref.osFamily),
          operation(e, 'nodeStatus'),
        ),
      );
    if (node.verdict !== 'ready')
      return `nodeStatus says ${node.verdict}${node.reason === undefined ? '' : `: ${node.reason}`}`;
    if (node.stamp?.image !== image || node.stamp.revision !== revision) {
      return `the stamp names ${node.stamp === undefined ? 'nothing' : `${node.stamp.image} revision ${node.stamp.revision}`}, not ${image} revision ${revision}`;
    }
    return undefined;
  });
}

/** The computer chosen for the revision's test, or a free one chosen now, or `undefined`. */
async function assignTestComputer(
  current: Engine,
  image: string,
  revision: number,
): Promise<string | undefined> {
  const row = await current.db
    .selectFrom('revisions')
    .select('test_computer')
    .where('image', '=', image)
    .where('revision', '=', revision)
    .executeTakeFirstOrThrow();
  if (row.test_computer !== null) return row.test_computer;
  // Its store holds the revision: the provisioner instance of the computer it was captured from.
  const source = await current.db
    .selectFrom('revisions')
    .innerJoin('computers', 'computers.name', 'revisions.captured_from')
    .select('computers.provisioner')
    .where('revisions.image', '=', image)
    .where('revisions.revision', '=', revision)
    .executeTakeFirstOrThrow();
  return current.db.transaction().execute(async (tx) => {
    const free = await tx
      .selectFrom('computers')
      .select('name')
      .where('state', '=', 'available')
      .where('provisioner', '=', source.provisioner)
      .orderBy('tainted', 'desc') // a tainted computer needs a load anyway
      .orderBy('name')
      .forUpdate()
      .skipLocked()
      .execute();
    const chosen = free.find((c) => current.access.has(c.name));
    if (chosen === undefined) return undefined;
    await updateComputer(tx, chosen.name, { state: 'loading' });
    await tx
      .updateTable('revisions')
      .set({ test_computer: chosen.name })
      .where('image', '=', image)
      .where('revision', '=', revision)
      .execute();
    return chosen.name;
  });
}
