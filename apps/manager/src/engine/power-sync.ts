import { DBOS } from '@dbos-inc/dbos-sdk';
import type { PowerState } from '@vlab/core';
import { sql } from 'kysely';
import { recordEvent } from '../database/events.js';
import type { Engine } from './engine.js';
import { OPERATION_TIMEOUTS_MS } from './operation-timeouts.js';
import { stateStep } from './steps.js';

/** What one round of power checks found. */
export interface PowerSyncRound {
  /** Computers whose power was read. */
  readonly checked: number;
  /** Computers whose check failed or whose power was not what the manager expects. */
  readonly failed: readonly string[];
  /** Computers this round put in maintenance (or asked maintenance for, when reserved). */
  readonly maintenance: readonly string[];
}

/** How many computers are checked at once. */
const CHECKS_AT_ONCE = 8;

/** The id of the power-sync round of the time slot `slot` (one per slot, whichever manager starts it). */
export function powerSyncWorkflowId(slot: number): string {
  return `power-sync:${slot}`;
}

/**
 * One round of power-state sync: every computer at rest has its power read from its provisioner
 * (`powerStatus`) and compared with what the manager expects, as Ironic's conductor does every
 * 120 s. A computer that is reserved, or available holding a preloaded revision, should be on.
 *
 * @remarks
 * A failed read, or a computer off that should be on, counts as a failed check; at
 * `policies.powerSync.failuresBeforeMaintenance` failed checks in a row the computer goes to
 * maintenance with the reason (a reserved one when its reservation ends), never silently. An
 * available computer found off loses its preload at once (it is tainted: reloaded before its next
 * reservation). Computers at work (loading, reclaiming) are not checked: their operation owns the
 * power. One step, `power-sync`; a re-run reads the power again and counts each computer's
 * failure once per round (its `power_checked_at` is the round's time).
 */
export async function powerSyncRound(roundAt: number): Promise<PowerSyncRound> {
  return stateStep(
    'power-sync',
    {},
    (e) => checkAll(e, new Date(roundAt)),
    (round) =>
      `${round.checked} checked${round.failed.length === 0 ? '' : `; failed: ${round.failed.join(', ')}`}${round.maintenance.length === 0 ? '' : `; to maintenance: ${round.maintenance.join(', ')}`}`,
  );
}

/** Starts the round of the current time slot, unless a manager already did. */
export async function startPowerSyncRound(
  round: (roundAt: number) => Promise<PowerSyncRound>,
  intervalMs: number,
): Promise<void> {
  const slot = Math.floor(Date.now() / intervalMs);
  await DBOS.startWorkflow(round, { workflowID: powerSyncWorkflowId(slot) })(slot * intervalMs);
}

async function checkAll(current: Engine, roundAt: Date): Promise<PowerSyncRound> {
  const rows = await current.db
    .selectFrom('computers')
    .select(['name', 'state', 'loaded_image', 'tainted', 'reload_request'])
    .where('state', 'in', ['available', 'reserved', 'maintenance', 'failed'])
    .where('reload_request', 'is', null)
    .orderBy('name')
    .execute();
  const computers = rows.filter((row) => current.access.has(row.name));
  const failed: string[] = [];
  const maintenance: string[] = [];
  for (let i = 0; i < computers.length; i += CHECKS_AT_ONCE) {
    await Promise.all(
      computers.slice(i, i + CHECKS_AT_ONCE).map(async (row) => {
        const read = await readPower(current, row.name);
        const expectOn =
          row.state === 'reserved' ||
          (row.state === 'available' && row.loaded_image !== null && !row.tainted);
        const problem =
          read.error !== undefined
            ? `the power check failed: ${read.error}`
            : expectOn && read.power === 'off'
              ? `it is off, and the manager expects it on (${row.state})`
              : undefined;
        const verdict = await record(current, row.name, roundAt, read.power, problem);
        if (problem !== undefined) failed.push(row.name);
        if (verdict === 'maintenance') maintenance.push(row.name);
      }),
    );
  }
  return { checked: computers.length, failed: failed.sort(), maintenance: maintenance.sort() };
}

async function readPower(
  current: Engine,
  name: string,
): Promise<{ readonly power: PowerState; readonly error: string | undefined }> {
  try {
    const power = await current.access.provisioner(name).powerStatus(
      current.access.computerContext(name, {
        phase: 'powerStatus',
        timeoutMs: OPERATION_TIMEOUTS_MS.powerStatus,
        signal: current.signal,
      }),
    );
    return { power, error: undefined };
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    return { power: 'unknown', error: text.slice(0, 500) };
  }
}

/**
 * Writes one computer's result of the round, once per round; resolves `maintenance` when this
 * write put it there (or asked for it).
 */
async function record(
  current: Engine,
  name: string,
  roundAt: Date,
  power: PowerState,
  problem: string | undefined,
): Promise<'ok' | 'failed' | 'maintenance'> {
  const limit = current.config.policies.powerSync.failuresBeforeMaintenance;
  return current.db.transaction().execute(async (tx) => {
    const row = await tx
      .selectFrom('computers')
      .select(['state', 'failed_checks', 'power_checked_at', 'loaded_image', 'tainted'])
      .where('name', '=', name)
      .forUpdate()
      .executeTakeFirstOrThrow();
    // Counted already (a re-run of this round), or a later round wrote meanwhile.
    if (row.power_checked_at !== null && row.power_checked_at.getTime() >= roundAt.getTime()) {
      return 'ok';
    }
    const counted = row.state === 'available' || row.state === 'reserved';
    const failures = problem === undefined || !counted ? 0 : row.failed_checks + 1;
    await tx
      .updateTable('computers')
      .set({
        power,
        power_checked_at: roundAt,
        failed_checks: failures,
        // An available computer found off lost what was loaded: reload before reuse.
        tainted: row.state === 'available' && power === 'off' ? true : row.tainted,
      })
      .where('name', '=', name)
      .execute();
    if (problem === undefined || !counted) return 'ok';
    await recordEvent(tx, {
      kind: 'power.check',
      computer: name,
      outcome: 'failed',
      message: `${problem} (${failures} of ${limit} in a row)`,
    });
    if (failures < limit) return 'failed';
    const reason = `${limit} power checks in a row failed; the last: ${problem}`.slice(0, 2000);
    await tx
      .updateTable('computers')
      .set(
        row.state === 'available'
          ? { state: 'maintenance', maintenance_reason: reason, updated_at: new Date() }
          : {
              maintenance_requested: sql<string>`coalesce(maintenance_requested, ${reason})`,
              updated_at: new Date(),
            },
      )
      .where('name', '=', name)
      .execute();
    await recordEvent(tx, { kind: 'computer.maintenance', computer: name, message: reason });
    return 'maintenance';
  });
}
