import type { ImageStamp } from '@vlab/core';
import type { CrashLab } from './crash-lab.js';
import type { Scenario } from './scenario.js';

interface EventRow extends Record<string, unknown> {
  readonly id: string;
  readonly reservation_id: string | null;
  readonly kind: string;
  readonly outcome: string | null;
  readonly error_code: string | null;
}

/**
 * The machines and the image store as the test sees them from outside the manager: the memory
 * lab's, or the lab computers' (the testlab's harnesses and the store's directory).
 */
export interface MachineView {
  /** The image the scenario reserves and captures. */
  readonly image: string;
  /** Whether revision `revision` of the image is published in the store. */
  stored(revision: number): Promise<boolean>;
  /** What a writer left half-written in the store, each in words (empty: nothing). */
  leftovers(): Promise<string[]>;
  /** The stamp on the computer's disk, if it has one. */
  stamp(computer: string): Promise<ImageStamp | undefined>;
  /** Why a computer that should run its OS does not (power, an OS that does not answer), if so. */
  notRunning(computer: string): Promise<string | undefined>;
}

/**
 * What must hold once everything is quiet, from the lab server's call log, the database and the
 * machines; each problem as a sentence (empty: all holds).
 */
export async function checkInvariants(
  crash: CrashLab,
  scenario: Scenario,
  machines: MachineView,
): Promise<string[]> {
  const { image } = machines;
  // No module operation started after its step completed (an interrupted one may be redone).
  const problems = await stepCallProblems(crash, scenario);
  const events = await scenario.sql<EventRow>('SELECT * FROM events ORDER BY id');

  // A capture is never started twice; nothing half-written stays in the store; a revision is
  // in the store exactly when it did not fail.
  const perRevision = new Map<number, number>();
  for (const call of crash.calls.filter((c) => c.kind === 'provisioner' && c.op === 'capture')) {
    const revision = (call.args as [{ newRevision: number }])[0].newRevision;
    perRevision.set(revision, (perRevision.get(revision) ?? 0) + 1);
  }
  for (const [revision, count] of perRevision)
    if (count > 1) problems.push(`revision ${revision}: provisioner.capture called ${count} times`);
  const leftovers = await machines.leftovers();
  if (leftovers.length > 0)
    problems.push(`the store holds half-written data: ${leftovers.join(', ')}`);
  const revisions = await scenario.sql<{
    revision: number;
    state: string;
    failure: string | null;
    capture_started_at: Date | null;
  }>('SELECT * FROM revisions WHERE image = $1 ORDER BY revision', [image]);
  for (const row of revisions) {
    if (row.state === 'capturing' || row.state === 'testing')
      problems.push(`revision ${row.revision} is still ${row.state}`);
    const stored = await machines.stored(row.revision);
    if (row.state === 'failed') {
      if (!row.failure?.startsWith('VLAB_ERR_CAPTURE_INTERRUPTED'))
        problems.push(`revision ${row.revision} failed for another reason: ${row.failure}`);
      if (stored) problems.push(`revision ${row.revision} failed, but it is in the store`);
    } else if (!stored) {
      problems.push(`revision ${row.revision} is ${row.state} but not in the store`);
    }
    if (row.revision > 1 && row.capture_started_at === null && row.state !== 'failed')
      problems.push(`revision ${row.revision} is ${row.state} without a capture`);
  }

  // Every reservation reached exactly one correct end, its workflow finished.
  const reservations = await scenario.sql<{ id: string; state: string; end_reason: string | null }>(
    'SELECT id, state, end_reason FROM reservations',
  );
  const workflows = new Map(
    (
      await scenario.sql<{ workflow_uuid: string; status: string }>(
        "SELECT workflow_uuid, status FROM dbos.workflow_status WHERE workflow_uuid LIKE 'reservation:%'",
      )
    ).map((w) => [w.workflow_uuid, w.status]),
  );
  const captured = new RegExp(`^captured as ${image} revision \\d+ \\(testing\\)$`);
  for (const row of reservations) {
    const role = scenario.roles.get(row.id);
    const reason = row.end_reason ?? '';
    const interrupted = /^capture failed: VLAB_ERR_CAPTURE_INTERRUPTED: /.test(reason);
    const expected =
      row.state === 'ended' &&
      (role === 'R1' ? reason === 'ended by request' : role === 'R2' && captured.test(reason));
    if (!expected && !(row.state === 'failed' && interrupted))
      problems.push(`reservation ${role} ${row.id} ended wrongly: ${row.state}: ${reason}`);
    const status = workflows.get(`reservation:${row.id}`);
    if (status !== 'SUCCESS')
      problems.push(`reservation ${role} ${row.id}: its workflow is ${status}`);
    if (!interrupted) continue;
    // Interrupted after the capture began: not run again, its revision discarded, reloaded.
    const mine = events.filter((e) => e.reservation_id === row.id);
    const lastCapture = mine.findLastIndex((e) => e.kind === 'capture');
    if (mine[lastCapture]?.error_code !== 'VLAB_ERR_CAPTURE_INTERRUPTED')
      problems.push(
        `reservation ${role} ${row.id}: interrupted, but its last capture event is ${mine[lastCapture]?.error_code}`,
      );
    if (!mine.some((e) => e.kind === 'discard' && e.outcome === 'ok'))
      problems.push(`reservation ${role} ${row.id}: interrupted capture not discarded`);
    if (!mine.slice(lastCapture).some((e) => e.kind === 'reload' && e.outcome === 'ok'))
      problems.push(`reservation ${role} ${row.id}: not reloaded after the interrupted capture`);
  }

  // No computer is left in a state the manager does not know: what the database says a machine
  // holds is what its disk's stamp says, and an untainted one runs it.
  const computers = await scenario.sql<{
    name: string;
    state: string;
    loaded_image: string | null;
    loaded_revision: number | null;
    tainted: boolean;
  }>('SELECT name, state, loaded_image, loaded_revision, tainted FROM computers ORDER BY name');
  for (const row of computers) {
    if (row.state !== 'available') problems.push(`computer ${row.name} is ${row.state}`);
    // Nothing known on it: its next reservation loads it whatever it holds.
    if (row.loaded_image === null) continue;
    const stamp = await machines.stamp(row.name);
    if (stamp?.image !== row.loaded_image || stamp.revision !== row.loaded_revision)
      problems.push(
        `computer ${row.name}: the manager says ${row.loaded_image}@${row.loaded_revision}, the machine holds ${stamp?.image}@${stamp?.revision}`,
      );
    if (row.tainted) continue;
    if (stamp?.state !== 'ready' || stamp.computer !== row.name || stamp.tainted)
      problems.push(`computer ${row.name}: untainted, but its stamp is ${JSON.stringify(stamp)}`);
    const why = await machines.notRunning(row.name);
    if (why !== undefined) problems.push(`computer ${row.name}: untainted, but ${why}`);
  }
  return problems;
}

/**
 * No load (nor any module operation) is started after a completed one for the same request: the
 * same step of the same workflow, completed once DBOS checkpointed its outcome. An interrupted one
 * (killed before the checkpoint) may be redone. From the lab server's call log.
 */
export async function stepCallProblems(crash: CrashLab, scenario: Scenario): Promise<string[]> {
  const problems: string[] = [];
  const loads = crash.calls.filter((c) => c.kind === 'provisioner' && c.op === 'load');
  const outputs = new Map(
    (
      await scenario.sql<{ workflow_uuid: string; function_id: number; completed: string | null }>(
        'SELECT workflow_uuid, function_id, completed_at_epoch_ms AS completed FROM dbos.operation_outputs',
      )
    ).map((o) => [
      `${o.workflow_uuid}#${o.function_id}`,
      o.completed === null ? undefined : Number(o.completed),
    ]),
  );
  for (const call of crash.calls) {
    if (call.workflowId === undefined) continue;
    const key = `${call.workflowId}#${call.stepId}`;
    const completed = outputs.get(key);
    if (!outputs.has(key))
      problems.push(`${call.kind}.${call.op} of ${key}: its step never completed`);
    else if (completed !== undefined && call.startedAt > completed)
      problems.push(`${call.kind}.${call.op} of ${key} started after its step completed`);
  }
  const loadsChecked = loads.filter((c) => c.workflowId !== undefined).length;
  if (loadsChecked !== loads.length) problems.push('a load ran outside a workflow step');
  return problems;
}
