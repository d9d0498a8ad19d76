import { randomUUID } from 'node:crypto';
import { DBOS } from '@dbos-inc/dbos-sdk';
import { createOperationContext } from '@vlab/core';
import { type Selectable, sql } from 'kysely';
import { recordEvent } from '../database/events.js';
import type { ComputerState, ComputersTable } from '../database/schema.js';
import { managerError } from '../errors.js';
import type { Engine } from './engine.js';
import { OPERATION_TIMEOUTS_MS } from './operation-timeouts.js';
import { RELOAD_CLAIM_EVENT, type ReloadClaim } from './reload-computer.js';
import { invalidRequest, isText, knownRevision } from './request-checks.js';
import { reloadWorkflowId, workflows } from './workflow-registry.js';

/** Longest reason an admin gives for maintenance, in characters. @public */
export const MAX_MAINTENANCE_REASON = 500;
/** Longest request id of a reload, in characters. @public */
export const MAX_RELOAD_REQUEST_ID = 200;

/** A computer as the manager keeps it. @public */
export interface ComputerStatus {
  /** Its name in the configuration. */
  readonly name: string;
  /** The provisioner instance (a key of the configuration's `provisioners`) that drives it. */
  readonly provisioner: string;
  /** Where it is in its life cycle. */
  readonly state: ComputerState;
  /** Why it is in maintenance, when it is. */
  readonly maintenanceReason: string | undefined;
  /**
   * An admin's maintenance reason waiting for the computer's work to end: it goes to maintenance
   * then, instead of becoming `available`.
   */
  readonly maintenanceRequested: string | undefined;
  /** The image revision on its disk, when the manager knows it. */
  readonly loaded: { readonly image: string; readonly revision: number } | undefined;
  /** Whether a reservation had it since its load: it is loaded again before anyone else gets it. */
  readonly tainted: boolean;
  /** Its power as last read, and when (`unknown` and `undefined` until read). */
  readonly power: {
    readonly state: 'on' | 'off' | 'unknown';
    readonly checkedAt: Date | undefined;
  };
}

/** What to load on a computer an admin reloads. @public */
export interface ReloadRequest {
  /** The image. */
  readonly image: string;
  /** The revision, in `testing` or `production`; default: the newest in production. */
  readonly revision?: number | undefined;
  /**
   * The caller's id of the request (1 to 200 printable characters): sent again, it finds the
   * first reload. Default: a new one.
   */
  readonly requestId?: string | undefined;
}

/** The lab's computers: their state and an admin's actions on them. @public */
export interface LabComputers {
  /** Every computer, by name. */
  list(): Promise<readonly ComputerStatus[]>;
  /** The computer, or `undefined`. */
  get(name: string): Promise<ComputerStatus | undefined>;
  /**
   * Puts the computer in maintenance with the admin's reason (1 to 500 printable characters):
   * nobody gets it until an admin takes it out. A computer at work (loading, reserved,
   * reclaiming) finishes that work first — its reservation goes on — and goes to maintenance
   * instead of becoming available (`maintenanceRequested` until then). Asking again replaces the
   * reason.
   * @throws `VLAB_ERR_REQUEST_INVALID`, `VLAB_ERR_COMPUTER_UNAVAILABLE` (no such computer).
   */
  maintenance(name: string, reason: string): Promise<ComputerStatus>;
  /**
   * Takes the computer out of maintenance (or out of `failed`), or withdraws a maintenance
   * request that is still waiting. It comes back tainted: its next reservation loads it, since
   * nobody knows what was done to its disk meanwhile. An available computer stays as it is.
   * @throws `VLAB_ERR_COMPUTER_UNAVAILABLE` when the lab has no such computer or the
   * configuration no longer names it.
   */
  release(name: string): Promise<ComputerStatus>;
  /**
   * Loads an image revision on a computer that is available or in maintenance, and checks it
   * (`nodeStatus` ready, the stamp naming the revision). Resolves once the reload holds the
   * computer (`loading`); the load runs on (follow `get` or the events). A passed reload leaves it
   * `available` with the revision, untainted (out of maintenance); a failed one puts it in
   * maintenance with the reason.
   * @throws `VLAB_ERR_REQUEST_INVALID`, `VLAB_ERR_IMAGE_UNKNOWN` (no such revision, or the
   * computer's store does not hold it), `VLAB_ERR_COMPUTER_UNAVAILABLE` (no such computer, or it
   * is at work).
   */
  reload(name: string, request: ReloadRequest): Promise<ComputerStatus>;
}

/** How long `reload` waits for its workflow to claim the computer, in seconds. */
const CLAIM_WAIT_SECONDS = 60;

/** The computers of the running manager. */
export function labComputers(current: Engine): LabComputers {
  const { db } = current;
  const find = async (name: string) => {
    if (!isText(name, 200)) return undefined;
    return db.selectFrom('computers').selectAll().where('name', '=', name).executeTakeFirst();
  };
  const found = async (name: string) => {
    const row = await find(name);
    if (row === undefined) {
      throw managerError(
        'VLAB_ERR_COMPUTER_UNAVAILABLE',
        `the lab has no computer ${JSON.stringify(String(name)).slice(0, 120)}`,
      );
    }
    return row;
  };
  const now = async (name: string) => computerStatus(await found(name));

  return {
    async list() {
      const rows = await db.selectFrom('computers').selectAll().orderBy('name').execute();
      return rows.map(computerStatus);
    },
    async get(name) {
      const row = await find(name);
      return row === undefined ? undefined : computerStatus(row);
    },
    async maintenance(name, reason) {
      if (!isText(reason, MAX_MAINTENANCE_REASON)) {
        throw invalid('reason', `is not 1 to ${MAX_MAINTENANCE_REASON} printable characters`);
      }
      await found(name);
      // At rest: maintenance now. At work: asked, applied when the work ends (`updateComputer`).
      const idle = sql<boolean>`state IN ('available', 'maintenance', 'failed')`;
      await db
        .updateTable('computers')
        .set({
          state: sql<ComputerState>`CASE WHEN ${idle} THEN 'maintenance' ELSE state END`,
          maintenance_reason: sql<
            string | null
          >`CASE WHEN ${idle} THEN ${reason} ELSE maintenance_reason END`,
          maintenance_requested: sql<string | null>`CASE WHEN ${idle} THEN NULL ELSE ${reason} END`,
          updated_at: new Date(),
        })
        .where('name', '=', name)
        .execute();
      await recordEvent(db, { kind: 'computer.maintenance', computer: name, message: reason });
      return now(name);
    },
    async release(name) {
      const row = await found(name);
      if (!current.access.has(name)) {
        throw managerError(
          'VLAB_ERR_COMPUTER_UNAVAILABLE',
          `computer ${name} is not in the configuration any more: add it back first`,
        );
      }
      if (row.state === 'maintenance' || row.state === 'failed') {
        await db
          .updateTable('computers')
          .set({
            state: 'available',
            maintenance_reason: null,
            maintenance_requested: null,
            tainted: true,
            failed_checks: 0,
            updated_at: new Date(),
          })
          .where('name', '=', name)
          .where('state', 'in', ['maintenance', 'failed'])
          .execute();
      } else if (row.maintenance_requested !== null) {
        await db
          .updateTable('computers')
          .set({ maintenance_requested: null, updated_at: new Date() })
          .where('name', '=', name)
          .execute();
      } else {
        return computerStatus(row);
      }
      await recordEvent(db, { kind: 'computer.release', computer: name });
      return now(name);
    },
    async reload(name, request) {
      if (typeof request !== 'object' || request === null) {
        throw invalid('request', 'is not an object');
      }
      const { image, revision, requestId = randomUUID() } = request;
      if (!isText(requestId, MAX_RELOAD_REQUEST_ID)) {
        throw invalid('requestId', `is not 1 to ${MAX_RELOAD_REQUEST_ID} printable characters`);
      }
      if (!isText(image, 200)) throw invalid('image', 'is not 1 to 200 printable characters');
      if (revision !== undefined && (!Number.isSafeInteger(revision) || revision < 1)) {
        throw invalid('revision', 'is not a whole number, 1 or more');
      }
      await found(name);
      if (!current.access.has(name)) {
        throw managerError(
          'VLAB_ERR_COMPUTER_UNAVAILABLE',
          `computer ${name} is not in the configuration any more`,
        );
      }
      const chosen = await knownRevision(db, image, revision, ['production', 'testing']);
      if (current.access.osModule(chosen.osFamily) === undefined) {
        throw managerError(
          'VLAB_ERR_IMAGE_UNKNOWN',
          `the configuration names no OS module for ${image}'s OS family ${chosen.osFamily}`,
        );
      }
      const ctx = createOperationContext({
        log: current.log,
        deadline: Date.now() + OPERATION_TIMEOUTS_MS.imageExists,
        signal: current.signal,
        phase: 'image-exists',
      });
      const stored = await current.access
        .provisioner(name)
        .imageExists(ctx, { name: image, revision: chosen.revision });
      if (!stored) {
        throw managerError(
          'VLAB_ERR_IMAGE_UNKNOWN',
          `the store of computer ${name}'s provisioner does not hold ${image} revision ${chosen.revision}`,
        );
      }
      const workflowId = reloadWorkflowId(name, requestId);
      await DBOS.startWorkflow(workflows().reload, { workflowID: workflowId })(
        name,
        image,
        chosen.revision,
      );
      const claim = await DBOS.getEvent<ReloadClaim>(
        workflowId,
        RELOAD_CLAIM_EVENT,
        CLAIM_WAIT_SECONDS,
      );
      if (claim === null) {
        throw managerError(
          'VLAB_ERR_COMPUTER_UNAVAILABLE',
          `the reload of ${name} did not start within ${CLAIM_WAIT_SECONDS} s`,
          { hint: 'Follow the computer and the events: the reload may still start.' },
        );
      }
      if (!claim.claimed) {
        throw managerError('VLAB_ERR_COMPUTER_UNAVAILABLE', `cannot reload: ${claim.reason}`, {
          hint: 'Wait until the computer is available, or put it in maintenance first.',
        });
      }
      return now(name);
    },
  };
}

function invalid(field: string, problem: string) {
  return invalidRequest("the computer request's", field, problem);
}

/** The status of a computer's row. */
export function computerStatus(row: Selectable<ComputersTable>): ComputerStatus {
  return {
    name: row.name,
    provisioner: row.provisioner,
    state: row.state,
    maintenanceReason: row.maintenance_reason ?? undefined,
    maintenanceRequested: row.maintenance_requested ?? undefined,
    loaded:
      row.loaded_image === null || row.loaded_revision === null
        ? undefined
        : { image: row.loaded_image, revision: row.loaded_revision },
    tainted: row.tainted,
    power: { state: row.power, checkedAt: row.power_checked_at ?? undefined },
  };
}
