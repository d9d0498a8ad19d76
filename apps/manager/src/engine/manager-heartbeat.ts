// DBOS's own recovery of an executor's pending workflows (what it runs at launch for its own id,
// and what its Conductor runs for a dead one): a documented export path of the package.
import { DBOSExecutor } from '@dbos-inc/dbos-sdk/internal/dbos-executor';
import { sql } from 'kysely';
import { recordEvent } from '../database/events.js';
import type { Engine } from './engine.js';

/** A running heartbeat. */
export interface Heartbeat {
  /** Stops beating; the row stays, so peers take over what this manager leaves unfinished. */
  stop(): Promise<void>;
}

/** What one beat did. */
export interface Beat {
  /** Peers whose heartbeat had stopped and whose unfinished workflows this manager took over. */
  readonly takenOver: ReadonlyMap<string, number>;
}

/**
 * Writes this manager's heartbeat every `policies.heartbeatSeconds`, and takes over the unfinished
 * workflows of every peer whose heartbeat is older than twice that: DBOS re-enqueues the peer's
 * pending workflows, and the live managers' queues run them from their last checkpoint.
 *
 * @remarks
 * Taking over is idempotent and safe between several live managers: the re-enqueue is one
 * `UPDATE` of the peer's pending workflows, so two managers that see the same silent peer split
 * nothing twice. A peer that was only slow, not dead, loses the workflows it was running: a step
 * it finishes afterwards fails to record (DBOS refuses a second outcome of a step), so the
 * window of a double action is the one step in flight — choose a heartbeat well above the
 * longest stall of a live manager. The first beat runs at once: a manager that starts after a
 * peer died takes over at its start.
 */
export function startHeartbeat(current: Engine, managerId: string): Heartbeat {
  const periodMs = current.config.policies.heartbeatSeconds * 1000;
  let running: Promise<unknown> = Promise.resolve();
  let stopped = false;
  const tick = (): void => {
    running = running
      .then(() => (stopped || current.closing ? undefined : beat(current, managerId, periodMs)))
      .catch((error: unknown) =>
        current.log.warn('a heartbeat of the manager failed', {
          manager: managerId,
          error: error instanceof Error ? error.message : String(error),
        }),
      );
  };
  tick();
  const timer = setInterval(tick, periodMs);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}

/** One heartbeat: this manager's row, then the takeover of silent peers. */
export async function beat(current: Engine, managerId: string, periodMs: number): Promise<Beat> {
  const { db } = current;
  await db
    .insertInto('managers')
    .values({ id: managerId, heartbeat_at: sql<Date>`now()` })
    .onConflict((c) => c.column('id').doUpdateSet({ heartbeat_at: sql<Date>`now()` }))
    .execute();
  const silent = await db
    .selectFrom('managers')
    .select(['id', 'heartbeat_at'])
    .where('id', '<>', managerId)
    .where('heartbeat_at', '<', sql<Date>`now() - make_interval(secs => ${(2 * periodMs) / 1000})`)
    .execute();
  const takenOver = new Map<string, number>();
  const executor = DBOSExecutor.globalInstance;
  if (executor === undefined) return { takenOver };
  for (const peer of silent) {
    const handles = await executor.recoverPendingWorkflows([peer.id]);
    if (handles.length === 0) continue;
    takenOver.set(peer.id, handles.length);
    const message = `${managerId} took over ${handles.length} unfinished workflows of manager ${peer.id}, silent since ${peer.heartbeat_at.toISOString()}`;
    current.log.warn(message, { manager: managerId, peer: peer.id });
    await recordEvent(db, { kind: 'manager.takeover', message });
  }
  return { takenOver };
}
