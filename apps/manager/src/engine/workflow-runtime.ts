import { hostname } from 'node:os';
import { DBOS } from '@dbos-inc/dbos-sdk';
import type { Logger, Secret } from '@vlab/core';
import { managerError } from '../errors.js';
import { type Engine, installEngine, removeEngine } from './engine.js';
import { startHeartbeat } from './manager-heartbeat.js';
import { startPowerSyncRound } from './power-sync.js';
import { machineQueueName, reservationWorkflowId, workflows } from './workflow-registry.js';

/**
 * The version of the manager's workflow code. DBOS recovers a workflow only on a manager of the
 * same version; raise it when a change moves, adds or removes a step of a workflow.
 * @public
 */
export const WORKFLOW_VERSION = '1';

/** How often a queue asks for work, in ms: bounds the wait before a machine workflow starts. */
const QUEUE_POLL_MS = 20;

/** The durable workflow runtime of a running manager. */
export interface WorkflowRuntime {
  /** This manager's executor id: DBOS recovers its unfinished workflows at its next start. */
  readonly executorId: string;
  /** Stops DBOS (running workflows stay pending, for recovery) and forgets the engine. */
  close(): Promise<void>;
}

/**
 * Launches DBOS on the manager's PostgreSQL (its system tables in schema `dbos`), registers one
 * queue per provisioner instance (partitioned per computer: one machine workflow per computer at
 * a time; `policies.concurrency.perProvisioner` at once per instance and manager), recovers this executor's
 * unfinished workflows and starts the workflow of every unfinished reservation that has none.
 * Every `policies.powerSync.intervalSeconds` it starts a round of power checks; every
 * `policies.heartbeatSeconds` it writes its heartbeat and takes over the workflows of silent peers.
 */
export async function startWorkflowRuntime(
  current: Engine,
  options: { readonly url: Secret; readonly executorId?: string | undefined },
): Promise<WorkflowRuntime> {
  installEngine(current);
  const executorId = options.executorId ?? hostname();
  try {
    const registered = workflows();
    DBOS.setConfig({
      name: `vlab-${current.config.lab}`,
      systemDatabaseUrl: options.url.reveal(),
      executorID: executorId,
      applicationVersion: WORKFLOW_VERSION,
      logger: dbosLogger(current.log.child({ component: 'dbos' })),
    });
    await DBOS.launch();
    for (const provisioner of Object.keys(current.config.provisioners)) {
      // perProvisioner bounds each manager's share (workerConcurrency): with a global limit on a
      // partitioned queue, DBOS 5.3 dequeues one partition per transaction (22 loads/s measured).
      await DBOS.registerQueue(machineQueueName(provisioner), {
        partitionConcurrency: 1,
        workerConcurrency: current.config.policies.concurrency.perProvisioner,
        minPollingIntervalMs: QUEUE_POLL_MS,
        onConflict: 'always_update',
      });
    }
    const unfinished = await current.db
      .selectFrom('reservations')
      .select('id')
      .where('state', 'in', ['pending', 'loading', 'ready', 'ending'])
      .execute();
    for (const { id } of unfinished) {
      await DBOS.startWorkflow(registered.reservation, { workflowID: reservationWorkflowId(id) })(
        id,
      );
    }
  } catch (error) {
    await DBOS.shutdown().catch(() => {});
    removeEngine(current);
    throw managerError(
      'VLAB_ERR_DATABASE_START_FAILED',
      `the durable workflow runtime (DBOS) did not start on the manager's database: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  // Power sync: each manager starts the round of each time slot; the slot's workflow id makes
  // it one round per slot for the whole lab.
  const intervalMs = current.config.policies.powerSync.intervalSeconds * 1000;
  const powerTimer = setInterval(() => {
    if (current.closing) return;
    startPowerSyncRound(workflows().powerSync, intervalMs).catch((error: unknown) =>
      current.log.warn('a power-sync round did not start', { error: String(error) }),
    );
  }, intervalMs);
  powerTimer.unref();
  const heartbeat = startHeartbeat(current, executorId);
  return {
    executorId,
    async close() {
      clearInterval(powerTimer);
      await heartbeat.stop();
      await DBOS.shutdown();
      removeEngine(current);
    },
  };
}

/** DBOS's log lines, into the manager's log. */
function dbosLogger(log: Logger) {
  const text = (entry: unknown): string =>
    entry instanceof Error
      ? `${entry.name}: ${entry.message}`
      : typeof entry === 'string'
        ? entry
        : JSON.stringify(entry);
  return {
    debug: (entry: unknown) => log.debug(text(entry)),
    info: (entry: unknown) => log.debug(text(entry)),
    warn: (entry: unknown) => log.warn(text(entry)),
    error: (entry: unknown) => log.error(text(entry)),
  };
}
