import { IMAGE_STAMP_PATHS, parseStamp } from '@vlab/core';
import { imageKey } from '@vlab/core/testing';
import type { CrashLab } from './crash-lab.js';
import type { Scenario } from './scenario.js';

interface EventRow extends Record<string, unknown> {
  readonly id: string;
  readonly reservation_id: string | null;
  readonly computer: string | null;
  readonly kind: string;
  readonly outcome: string | null;
  readonly error_code: string | null;
}

/**
 * What must hold once everything is quiet, from the lab server's call log and the database; each
 * problem as a sentence (empty: all holds).
 */
export async function checkInvariants(crash: CrashLab, scenario: Scenario): Promise<string[]> {
  const problems: string[] = [];
  const events = await scenario.sql<EventRow>('SELECT * FROM events ORDER BY id');
  const captures = crash.calls.filter((c) => c.kind === 'provisioner' && c.op === 'capture');
  const revisions = await scenario.sql<{
    revision: number;
    state: string;
    failure: string | null;
    captured_from: string | null;
    capture_started_at: Date | null;
  }>("SELECT * FROM revisions WHERE image = 'base' ORDER BY revision");

  problems.push(...(await stepCallProblems(crash, scenario)));

  // A capture is never started twice; a revision is published at most once.
  const perRevision = new Map<number, number>();
  for (const call of captures) {
    const revision = (call.args as [{ newRevision: number }])[0].newRevision;
    perRevision.set(revision, (perRevision.get(revision) ?? 0) + 1);
  }
  for (const [revision, count] of perRevision)
    if (count > 1) problems.push(`revision ${revision}: provisioner.capture called ${count} times`);
  for (const row of revisions) {
    if (row.state === 'capturing' || row.state === 'testing')
      problems.push(`revision ${row.revision} is still ${row.state}`);
    const stored = crash.lab.images.has(imageKey('base', row.revision));
    if (crash.lab.images.has(imageKey('.partial-base', row.revision)))
      problems.push(`revision ${row.revision}: a partial image is left in the store`);
    if (row.state === 'failed') {
      if (!row.failure?.startsWith('VLAB_ERR_CAPTURE_INTERRUPTED'))
        problems.push(`revision ${row.revision} failed for another reason: ${row.failure}`);
      if (stored) problems.push(`revision ${row.revision} failed, but its image is in the store`);
    } else if (!stored) {
      problems.push(`revision ${row.revision} is ${row.state} but not in the store`);
    }
    if (row.revision > 1 && row.capture_started_at === null && row.state !== 'failed')
      problems.push(`revision ${row.revision} is ${row.state} without a capture`);
  }

  // Every reservation reached exactly one correct end.
  const reservations = await scenario.sql<{
    id: string;
    state: string;
    end_reason: string | null;
    computer: string | null;
  }>('SELECT id, state, end_reason, computer FROM reservations');
  const workflows = new Map(
    (
      await scenario.sql<{ workflow_uuid: string; status: string }>(
        "SELECT workflow_uuid, status FROM dbos.workflow_status WHERE workflow_uuid LIKE 'reservation:%'",
      )
    ).map((w) => [w.workflow_uuid, w.status]),
  );
  for (const row of reservations) {
    const role = scenario.roles.get(row.id);
    const interrupted = /^capture failed: VLAB_ERR_CAPTURE_INTERRUPTED: /.test(
      row.end_reason ?? '',
    );
    const expected =
      role === 'R1'
        ? row.state === 'ended' && row.end_reason === 'ended by request'
        : role === 'R2'
          ? row.state === 'ended' &&
            /^captured as base revision \d+ \(testing\)$/.test(row.end_reason ?? '')
          : false;
    if (!expected && !(row.state === 'failed' && interrupted))
      problems.push(`reservation ${role} ${row.id} ended wrongly: ${row.state}: ${row.end_reason}`);
    if (workflows.get(`reservation:${row.id}`) !== 'SUCCESS')
      problems.push(
        `reservation ${role} ${row.id}: its workflow is ${workflows.get(`reservation:${row.id}`)}`,
      );
    const mine = events.filter((e) => e.reservation_id === row.id);
    if (interrupted) {
      // Interrupted after preCapture could begin: not run again, its data removed, reloaded.
      const failedCapture = mine.findLast((e) => e.kind === 'capture');
      if (failedCapture?.error_code !== 'VLAB_ERR_CAPTURE_INTERRUPTED')
        problems.push(
          `reservation ${role} ${row.id}: interrupted, but its last capture event is ${failedCapture?.error_code}`,
        );
      if (!mine.some((e) => e.kind === 'discard' && e.outcome === 'ok'))
        problems.push(`reservation ${role} ${row.id}: interrupted capture not discarded`);
      const lastCapture = mine.findLastIndex((e) => e.kind === 'capture');
      if (!mine.slice(lastCapture).some((e) => e.kind === 'reload' && e.outcome === 'ok'))
        problems.push(
          `reservation ${role} ${row.id}: its computer was not reloaded after the interrupted capture`,
        );
    }
  }

  // No computer is left in a state the manager does not know: what the database says is there
  // is what the machine holds.
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
    const machine = crash.lab.machine(row.name);
    const text = machine.files.get(IMAGE_STAMP_PATHS.posix)?.toString('utf8');
    const stamp = text === undefined ? undefined : parseStamp(text, row.name);
    if (stamp?.image !== row.loaded_image || stamp.revision !== row.loaded_revision)
      problems.push(
        `computer ${row.name}: the manager says ${row.loaded_image}@${row.loaded_revision}, the machine holds ${stamp?.image}@${stamp?.revision}`,
      );
    if (!row.tainted && (stamp?.state !== 'ready' || stamp.computer !== row.name || stamp.tainted))
      problems.push(`computer ${row.name}: untainted, but its stamp is ${JSON.stringify(stamp)}`);
    if (!row.tainted && machine.power !== 'on')
      problems.push(`computer ${row.name}: untainted, but its power is ${machine.power}`);
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
