import { DBOS } from '@dbos-inc/dbos-sdk';
import {
  type CaptureMode,
  coreError,
  isCompatible,
  loginProblem,
  type Secret,
  type UserAccess,
} from '@vlab/core';
import { hostKeyId } from '@vlab/ssh';
import type { Kysely, Selectable } from 'kysely';
import { recordEvent } from '../database/events.js';
import { PostgresHostKeyStore } from '../database/host-key-store.js';
import type {
  LabDatabase,
  NewRevisionTest,
  ReservationState,
  ReservationsTable,
} from '../database/schema.js';
import { UserRegistry } from '../database/users.js';
import { managerError } from '../errors.js';
import { open } from '../secrets/secret-box.js';
import { imageNameProblem } from '../state/image-name.js';
import type { Engine } from './engine.js';
import { invalidRequest, isText, knownRevision } from './request-checks.js';
import { passwordAad } from './reservation-users.js';
import { CONTROL_TOPIC, type ControlMessage } from './reservation-workflow.js';
import { sshAddress } from './ssh-communicators.js';
import { reservationWorkflowId, workflows } from './workflow-registry.js';

/** Most users one reservation may have. @public */
export const MAX_RESERVATION_USERS = 64;
/** Longest request id, in characters. @public */
export const MAX_REQUEST_ID = 200;
/** Longest image or computer name a request may give, in characters. @public */
export const MAX_NAME = 200;
/** Longest reason for ending a reservation, in characters. @public */
export const MAX_END_REASON = 500;

/** A request for a computer. @public */
export interface ReservationRequest {
  /**
   * The caller's id of the request (1 to 200 printable characters): a request sent again with
   * the same id finds the first one's reservation and starts nothing.
   */
  readonly requestId: string;
  /** The image, by name. */
  readonly image: string;
  /** The revision; default: the newest in production. */
  readonly revision?: number | undefined;
  /** How long, in whole minutes: 1 to `policies.reservation.maxHours` × 60. */
  readonly minutes: number;
  /** The registered users who get an account (1 to 64); a user with role `admin` gets admin rights. */
  readonly logins: readonly string[];
  /** Only this computer may serve it; default: the manager picks one. */
  readonly computer?: string | undefined;
}

/** A reservation as the manager keeps it. @public */
export interface ReservationStatus {
  /** Its id (a UUID). */
  readonly id: string;
  /** The caller's id of the request. */
  readonly requestId: string;
  /** The image. */
  readonly image: string;
  /** The revision: the one requested, or the newest in production when the request was made. */
  readonly revision: number;
  /** The computer, once one is assigned. */
  readonly computer: string | undefined;
  /** The users who get an account. */
  readonly logins: readonly string[];
  /** Where it is in its life. */
  readonly state: ReservationState;
  /** When it was accepted. */
  readonly startsAt: Date;
  /** When its time runs out. */
  readonly endsAt: Date;
  /** When its computer was handed over. */
  readonly readyAt: Date | undefined;
  /** How each user connects, once it is ready (the passwords: `LabReservations.access`). */
  readonly access: readonly UserAccess[];
  /**
   * When a user was first seen connected; the moment it was ready when the OS module cannot tell
   * (no `userConnected`). A reservation nobody connects to within
   * `policies.reservation.unusedReclaimMinutes` is ended.
   */
  readonly connectedAt: Date | undefined;
  /** When it ended (`ended`, `failed`). */
  readonly endedAt: Date | undefined;
  /** Why it ended, or is ending. */
  readonly endReason: string | undefined;
}

/** What {@link LabReservations.capture} is asked. @public */
export interface CaptureRequest {
  /** `image`: saved, and the reservation ends; `checkpoint`: saved, and the users go on. */
  readonly mode: CaptureMode;
  /** The image the new revision belongs to. Default: the reservation's image. */
  readonly image?: string | undefined;
  /** The owner of the image when the capture creates it (a registered login). */
  readonly owner?: string | undefined;
}

/** How one user reaches a reservation's computer. @public */
export interface ReservationAccess extends UserAccess {
  /** The password the manager generated for the user, when it made one. */
  readonly password: Secret | undefined;
  /**
   * The computer's SSH host keys as the manager pinned them (OpenSSH public key lines), so a
   * client checks the host without trusting it on first use; empty when it pinned none.
   */
  readonly hostKeys: readonly string[];
}

/** The lab's reservations. @public */
export interface LabReservations {
  /**
   * Accepts a request and starts its workflow; resolves once both are recorded (the computer is
   * prepared afterwards: follow `get` or the events).
   * @throws `VLAB_ERR_REQUEST_INVALID`, `VLAB_ERR_IMAGE_UNKNOWN`, `VLAB_ERR_USER_UNKNOWN`,
   * `VLAB_ERR_COMPUTER_UNAVAILABLE`; nothing is created then.
   */
  request(request: ReservationRequest): Promise<ReservationStatus>;
  /** The reservation, or `undefined`. */
  get(id: string): Promise<ReservationStatus | undefined>;
  /** Every reservation, newest first. */
  list(): Promise<ReservationStatus[]>;
  /**
   * Ends the reservation now (its computer is reclaimed). Ending one that has ended does
   * nothing. `reason` (1 to 500 printable characters) is kept as its end reason.
   * @throws `VLAB_ERR_RESERVATION_NOT_FOUND`, `VLAB_ERR_REQUEST_INVALID` (the reason).
   */
  end(id: string, reason?: string): Promise<void>;
  /**
   * Moves the end by `minutes` (whole, 1 or more), at most to `maxHours` after the start.
   * @throws `VLAB_ERR_RESERVATION_NOT_FOUND`, `VLAB_ERR_REQUEST_INVALID` (over the limit, or ended).
   */
  extend(id: string, minutes: number): Promise<ReservationStatus>;
  /**
   * Captures the reservation's computer as the next revision of its image, or of the image
   * `options.image` names: `image` mode (the machine is saved and the reservation ends) or
   * `checkpoint` (saved, then handed back to the users, who go on). Resolves once the request is
   * checked and sent; the capture runs in the reservation's workflow (follow its events, and the
   * image's revisions). The new revision is `testing`, or `production` for an image whose
   * `newRevisionTest` is `off`.
   *
   * A name the lab does not know yet becomes a new image now, before the capture runs: of the
   * reservation's OS family, with its image's `newRevisionTest`, owned by `options.owner` (a
   * registered user, or none). An image that exists must be of the same OS family.
   * @throws `VLAB_ERR_RESERVATION_NOT_FOUND`; `VLAB_ERR_REQUEST_INVALID` (a reservation that is
   * not ready, a wrong mode, a bad image name, an image of another OS family);
   * `VLAB_ERR_CAPABILITY_MISSING` when the computer's provisioner or the image's OS module cannot
   * capture in that mode.
   */
  capture(id: string, options: CaptureRequest): Promise<void>;
  /**
   * How `login` connects to a ready reservation's computer, with the password the manager
   * generated for them (a `Secret`: reveal it only to that user). An admin user needs it for
   * `sudo`. Each call is recorded as an event (`reservation.access`, without the password).
   * @throws `VLAB_ERR_RESERVATION_NOT_FOUND`; `VLAB_ERR_REQUEST_INVALID` when the reservation is
   * not ready or `login` is not one of its users.
   */
  access(id: string, login: string): Promise<ReservationAccess>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const UNFINISHED: readonly ReservationState[] = ['pending', 'loading', 'ready', 'ending'];

/** The reservations of the running manager. */
export function labReservations(current: Engine): LabReservations {
  const { db } = current;
  const maxMinutes = current.config.policies.reservation.maxHours * 60;
  const find = async (id: string) => {
    if (typeof id !== 'string' || !UUID.test(id)) return undefined;
    return db.selectFrom('reservations').selectAll().where('id', '=', id).executeTakeFirst();
  };
  const found = async (id: string) => {
    const row = await find(id);
    if (row === undefined) {
      throw managerError(
        'VLAB_ERR_RESERVATION_NOT_FOUND',
        `no reservation has id ${JSON.stringify(String(id)).slice(0, 120)}`,
      );
    }
    return row;
  };

  return {
    async request(request) {
      const checked = await checkRequest(current, request, maxMinutes);
      const now = new Date();
      const inserted = await db
        .insertInto('reservations')
        .values({
          request_id: checked.requestId,
          image: checked.image,
          revision: checked.revision,
          requested_computer: checked.computer ?? null,
          logins: JSON.stringify(checked.logins),
          state: 'pending',
          starts_at: now,
          ends_at: new Date(now.getTime() + checked.minutes * 60_000),
        })
        .onConflict((c) => c.column('request_id').doNothing())
        .returningAll()
        .executeTakeFirst();
      const row =
        inserted ??
        (await db
          .selectFrom('reservations')
          .selectAll()
          .where('request_id', '=', checked.requestId)
          .executeTakeFirstOrThrow());
      // Started again for a repeated request: DBOS returns the running workflow of that id.
      await DBOS.startWorkflow(workflows().reservation, {
        workflowID: reservationWorkflowId(row.id),
      })(row.id);
      return status(row);
    },
    async get(id) {
      const row = await find(id);
      return row === undefined ? undefined : status(row);
    },
    async list() {
      const rows = await db
        .selectFrom('reservations')
        .selectAll()
        .orderBy('created_at', 'desc')
        .execute();
      return rows.map(status);
    },
    async end(id, reason = 'ended by request') {
      if (!isText(reason, MAX_END_REASON)) {
        throw invalid('reason', `is not 1 to ${MAX_END_REASON} printable characters`);
      }
      const row = await found(id);
      if (!UNFINISHED.includes(row.state)) return;
      const message: ControlMessage = { kind: 'end', reason };
      await DBOS.send(reservationWorkflowId(row.id), message, CONTROL_TOPIC);
    },
    async capture(id, options) {
      const mode = (options as { mode?: unknown } | undefined)?.mode;
      if (mode !== 'image' && mode !== 'checkpoint') {
        throw invalid('mode', "is not 'image' or 'checkpoint'");
      }
      const row = await found(id);
      if (row.state !== 'ready' || row.computer === null) {
        throw invalid(
          'id',
          `names a reservation that is ${row.state}: only a ready one is captured`,
        );
      }
      const into = options.image ?? row.image;
      const nameProblem = imageNameProblem(into);
      if (nameProblem !== undefined) throw invalid('image', nameProblem);
      const image = await db
        .selectFrom('images')
        .select(['os_family', 'new_revision_test'])
        .where('name', '=', row.image)
        .executeTakeFirstOrThrow();
      const os = current.access.osModule(image.os_family);
      const provisioner = current.access.provisioner(row.computer);
      const fit =
        os === undefined
          ? { ok: false, problems: [`the configuration names no OS module for ${image.os_family}`] }
          : isCompatible(os, provisioner, {
              operation: 'capture',
              mode,
              osFamily: image.os_family,
            });
      if (!fit.ok) {
        throw coreError(
          'VLAB_ERR_CAPABILITY_MISSING',
          `computer ${row.computer} cannot ${mode === 'image' ? 'be captured' : 'take a checkpoint'}: ${fit.problems.join(' ')}`,
          { computer: row.computer },
        );
      }
      if (into !== row.image) await ensureImage(db, into, image, options.owner);
      const message: ControlMessage = { kind: 'capture', mode, image: into };
      await DBOS.send(reservationWorkflowId(row.id), message, CONTROL_TOPIC);
    },
    async access(id, login) {
      const row = await found(id);
      if (row.state !== 'ready') {
        throw invalid(
          'id',
          `names a reservation that is ${row.state}: only a ready one is reached`,
        );
      }
      const access = (row.access ?? []).find((a) => a.login === login);
      if (typeof login !== 'string' || access === undefined) {
        throw invalid('login', `is not a user of reservation ${row.id}`);
      }
      const sealed = await db
        .selectFrom('reservation_secrets')
        .select('ciphertext')
        .where('reservation_id', '=', row.id)
        .where('login', '=', login)
        .executeTakeFirst();
      await recordEvent(db, {
        kind: 'reservation.access',
        reservationId: row.id,
        computer: row.computer ?? undefined,
        message: `access of ${login}`,
      });
      const ssh = sshAddress(current.access.computer(row.computer as string));
      const hostKeys = await new PostgresHostKeyStore(db).get(hostKeyId(ssh.host, ssh.port));
      return {
        ...access,
        hostKeys,
        password:
          sealed === undefined
            ? undefined
            : open(
                current.key,
                sealed.ciphertext,
                passwordAad(row.id, login),
                `password of ${login}`,
              ),
      };
    },
    async extend(id, minutes) {
      const row = await found(id);
      if (!Number.isSafeInteger(minutes) || minutes < 1) {
        throw invalid('minutes', 'is not a whole number of minutes, 1 or more');
      }
      if (!UNFINISHED.includes(row.state) || row.state === 'ending') {
        throw invalid(
          'id',
          `names a reservation that is ${row.state}: it can no longer be extended`,
        );
      }
      const endsAt = new Date(row.ends_at.getTime() + minutes * 60_000);
      if (endsAt.getTime() - row.starts_at.getTime() > maxMinutes * 60_000) {
        throw invalid(
          'minutes',
          `would make the reservation longer than the policy's ${maxMinutes} minutes`,
        );
      }
      const updated = await db
        .updateTable('reservations')
        .set({ ends_at: endsAt })
        .where('id', '=', row.id)
        .returningAll()
        .executeTakeFirstOrThrow();
      const message: ControlMessage = { kind: 'extend' };
      await DBOS.send(reservationWorkflowId(row.id), message, CONTROL_TOPIC);
      return status(updated);
    },
  };
}

interface CheckedRequest {
  readonly requestId: string;
  readonly image: string;
  readonly revision: number;
  readonly minutes: number;
  readonly logins: readonly string[];
  readonly computer: string | undefined;
}

/** Every check of a request, before anything is written. */
async function checkRequest(
  current: Engine,
  request: ReservationRequest,
  maxMinutes: number,
): Promise<CheckedRequest> {
  if (typeof request !== 'object' || request === null) throw invalid('request', 'is not an object');
  const { requestId, image, revision, minutes, logins, computer } = request;
  if (!isText(requestId, MAX_REQUEST_ID)) {
    throw invalid('requestId', `is not 1 to ${MAX_REQUEST_ID} printable characters`);
  }
  if (!Number.isSafeInteger(minutes) || minutes < 1 || minutes > maxMinutes) {
    throw invalid(
      'minutes',
      `is not a whole number of minutes from 1 to ${maxMinutes} (policies.reservation.maxHours)`,
    );
  }
  if (!Array.isArray(logins) || logins.length === 0 || logins.length > MAX_RESERVATION_USERS) {
    throw invalid('logins', `is not a list of 1 to ${MAX_RESERVATION_USERS} logins`);
  }
  for (const login of logins) {
    const problem = typeof login === 'string' ? loginProblem(login) : 'is not a string';
    if (problem !== undefined)
      throw invalid('logins', `has ${JSON.stringify(login)?.slice(0, 80)}: ${problem}`);
  }
  if (new Set(logins).size !== logins.length) throw invalid('logins', 'names a login twice');
  if (!isText(image, MAX_NAME))
    throw invalid('image', `is not 1 to ${MAX_NAME} printable characters`);
  if (revision !== undefined && (!Number.isSafeInteger(revision) || revision < 1)) {
    throw invalid('revision', 'is not a whole number, 1 or more');
  }
  if (computer !== undefined && !isText(computer, MAX_NAME)) {
    throw invalid('computer', `is not 1 to ${MAX_NAME} printable characters`);
  }

  const { db } = current;
  const chosen = await knownRevision(db, image, revision, ['production']);

  const registry = new UserRegistry(db);
  for (const login of logins) {
    if ((await registry.get(login)) === undefined) {
      throw managerError(
        'VLAB_ERR_USER_UNKNOWN',
        `${login} is not a registered user of lab ${current.config.lab}`,
      );
    }
  }

  if (computer !== undefined) {
    const row = current.access.has(computer)
      ? await db
          .selectFrom('computers')
          .select(['state', 'maintenance_reason'])
          .where('name', '=', computer)
          .executeTakeFirst()
      : undefined;
    if (row === undefined) {
      throw managerError(
        'VLAB_ERR_COMPUTER_UNAVAILABLE',
        `the lab has no computer ${JSON.stringify(computer).slice(0, 120)}`,
      );
    }
    if (row.state === 'maintenance' || row.state === 'failed') {
      throw managerError(
        'VLAB_ERR_COMPUTER_UNAVAILABLE',
        `computer ${computer} is in ${row.state}${row.maintenance_reason === null ? '' : ` (${row.maintenance_reason})`}`,
      );
    }
  }
  return { requestId, image, revision: chosen.revision, minutes, logins: [...logins], computer };
}

/**
 * Makes `name` an image of `source`'s OS family, owned by `owner`, unless it is one already.
 * Two captures into one new name race harmlessly: the second finds the first's row.
 */
async function ensureImage(
  db: Kysely<LabDatabase>,
  name: string,
  source: { readonly os_family: string; readonly new_revision_test: NewRevisionTest },
  owner: string | undefined,
): Promise<void> {
  const registered =
    owner === undefined
      ? undefined
      : await db.selectFrom('users').select('login').where('login', '=', owner).executeTakeFirst();
  const created = await db
    .insertInto('images')
    .values({
      name,
      os_family: source.os_family,
      owner: registered?.login ?? null,
      new_revision_test: source.new_revision_test,
    })
    .onConflict((oc) => oc.column('name').doNothing())
    .returning('name')
    .executeTakeFirst();
  if (created !== undefined) {
    await recordEvent(db, {
      kind: 'image.created',
      message: `${name} (${source.os_family}${registered === undefined ? '' : `, owner ${registered.login}`})`,
    });
    return;
  }
  const existing = await db
    .selectFrom('images')
    .select('os_family')
    .where('name', '=', name)
    .executeTakeFirstOrThrow();
  if (existing.os_family !== source.os_family) {
    throw invalid(
      'image',
      `names image ${name} of OS family ${existing.os_family}; this reservation's computer runs ${source.os_family}: capture into a new name`,
    );
  }
}

function invalid(field: string, problem: string) {
  return invalidRequest("the reservation request's", field, problem);
}

function status(row: Selectable<ReservationsTable>): ReservationStatus {
  return {
    id: row.id,
    requestId: row.request_id,
    image: row.image,
    revision: row.revision,
    computer: row.computer ?? undefined,
    logins: row.logins,
    state: row.state,
    startsAt: row.starts_at,
    endsAt: row.ends_at,
    endedAt: row.ended_at ?? undefined,
    readyAt: row.ready_at ?? undefined,
    access: row.access ?? [],
    connectedAt: row.connected_at ?? undefined,
    endReason: row.end_reason ?? undefined,
  };
}
