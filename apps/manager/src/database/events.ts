import { ERROR_CODE_PATTERN } from '@vlab/core';
import type { Expression, Kysely, Selectable, SqlBool } from 'kysely';
import { invalidValueError } from './errors.js';
import {
  EVENT_OUTCOMES,
  type EventOutcome,
  type EventsTable,
  type LabDatabase,
  type ProgressSample,
} from './schema.js';

/** The kind of the events that are progress samples. @public */
export const PROGRESS_EVENT = 'progress';

/** Longest event message kept, in characters; a longer one is cut, ending in `…`. @public */
export const MAX_EVENT_MESSAGE = 4000;
/** Most events {@link listEvents} returns at once. @public */
export const MAX_EVENTS_PER_PAGE = 1000;

/** An event as recorded. @public */
export interface LabEvent {
  /** Increasing id; pass the last one as `after` for the next page. */
  readonly id: number;
  /** When it happened. */
  readonly at: Date;
  /** The reservation it belongs to, if any. */
  readonly reservationId: string | null;
  /** The computer it happened on, if any. */
  readonly computer: string | null;
  /** What kind of event (`load`, `capture`, `reservation.ready` …). */
  readonly kind: string;
  /** The step, if it is one step of an operation. */
  readonly step: string | null;
  /** How long it took, in ms. */
  readonly durationMs: number | null;
  /** How it ended. */
  readonly outcome: EventOutcome | null;
  /** The `VLAB_ERR_…` code it failed with. */
  readonly errorCode: string | null;
  /** A message for people. */
  readonly message: string | null;
  /** The figures of a progress sample (kind `progress`; its phase is `step`). */
  readonly progress: ProgressSample | null;
}

/** What {@link recordEvent} records; only `kind` is required. @public */
export interface NewEvent {
  /** What kind of event; 1 to 100 characters. */
  readonly kind: string;
  /** When it happened. Default: now (the database's clock). */
  readonly at?: Date | undefined;
  /** The reservation it belongs to (a UUID of `reservations`). */
  readonly reservationId?: string | undefined;
  /** The computer it happened on. */
  readonly computer?: string | undefined;
  /** The step, if it is one step of an operation. */
  readonly step?: string | undefined;
  /** How long it took, in ms (a whole number, 0 or more). */
  readonly durationMs?: number | undefined;
  /** How it ended. */
  readonly outcome?: EventOutcome | undefined;
  /** The `VLAB_ERR_…` code it failed with. */
  readonly errorCode?: string | undefined;
  /** A message for people — never a secret (pass it through `redact` first). Cut to 4000 characters. */
  readonly message?: string | undefined;
  /** The figures of a progress sample (kind `progress`). */
  readonly progress?: ProgressSample | undefined;
}

/** Which events `Manager.events` (and `listEvents`) return. @public */
export interface EventQuery {
  /** Only those of this reservation. */
  readonly reservationId?: string | undefined;
  /** Only those on this computer. */
  readonly computer?: string | undefined;
  /** Only those with a greater id (the last id of the previous page). */
  readonly after?: number | undefined;
  /** At most this many, 1 to 1000. */
  readonly limit: number;
  /** Whether progress samples (kind `progress`) are among them. Default: false. */
  readonly progress?: boolean | undefined;
}

/**
 * Records an event. Pass a transaction as `db` to record it together with the change it reports.
 * @throws `VLAB_ERR_CONFIG_INVALID` naming the field that is wrong; nothing is written then.
 * @public
 */
export async function recordEvent(db: Kysely<LabDatabase>, event: NewEvent): Promise<LabEvent> {
  const kind = checkText('kind', event.kind, 100);
  if (
    event.durationMs !== undefined &&
    !(Number.isSafeInteger(event.durationMs) && event.durationMs >= 0)
  ) {
    throw invalidValueError('durationMs', 'durationMs is not a whole number of ms, 0 or more');
  }
  if (event.outcome !== undefined && !EVENT_OUTCOMES.includes(event.outcome)) {
    throw invalidValueError('outcome', 'outcome is not one of ok, failed, cancelled');
  }
  if (event.errorCode !== undefined && !ERROR_CODE_PATTERN.test(event.errorCode)) {
    throw invalidValueError('errorCode', 'errorCode is not a VLAB_ERR_<AREA>_<PROBLEM> code');
  }
  if (
    event.at !== undefined &&
    !(event.at instanceof Date && Number.isFinite(event.at.getTime()))
  ) {
    throw invalidValueError('at', 'at is not a valid Date');
  }
  const message =
    event.message === undefined
      ? null
      : event.message.length > MAX_EVENT_MESSAGE
        ? `${event.message.slice(0, MAX_EVENT_MESSAGE - 1)}…`
        : event.message;
  const row = await db
    .insertInto('events')
    .values({
      kind,
      at: event.at,
      reservation_id: event.reservationId === undefined ? null : checkUuid(event.reservationId),
      computer: event.computer === undefined ? null : checkText('computer', event.computer, 300),
      step: event.step === undefined ? null : checkText('step', event.step, 200),
      duration_ms: event.durationMs ?? null,
      outcome: event.outcome ?? null,
      error_code: event.errorCode ?? null,
      message,
      progress: event.progress === undefined ? null : JSON.stringify(event.progress),
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toEvent(row);
}

/**
 * Events in the order they were recorded (by id), filtered by reservation and computer, after a
 * given id: page with `after` = the last id returned. `only` adds a condition of its own.
 * @throws `VLAB_ERR_CONFIG_INVALID` for a limit outside 1–1000 or a malformed filter.
 * @public
 */
export async function listEvents(
  db: Kysely<LabDatabase>,
  query: EventQuery,
  only?: Expression<SqlBool>,
): Promise<LabEvent[]> {
  if (!Number.isSafeInteger(query.limit) || query.limit < 1 || query.limit > MAX_EVENTS_PER_PAGE) {
    throw invalidValueError(
      'limit',
      `limit is not a whole number from 1 to ${MAX_EVENTS_PER_PAGE}`,
    );
  }
  if (query.after !== undefined && !Number.isSafeInteger(query.after)) {
    throw invalidValueError('after', 'after is not an event id');
  }
  let select = db.selectFrom('events').selectAll();
  if (query.reservationId !== undefined) {
    select = select.where('reservation_id', '=', checkUuid(query.reservationId));
  }
  if (query.computer !== undefined) select = select.where('computer', '=', query.computer);
  if (query.after !== undefined) select = select.where('id', '>', query.after);
  if (query.progress !== true) select = select.where('kind', '<>', PROGRESS_EVENT);
  if (only !== undefined) select = select.where(only);
  const rows = await select.orderBy('id').limit(query.limit).execute();
  return rows.map(toEvent);
}

function toEvent(row: Selectable<EventsTable>): LabEvent {
  return {
    id: row.id,
    at: row.at,
    reservationId: row.reservation_id,
    computer: row.computer,
    kind: row.kind,
    step: row.step,
    durationMs: row.duration_ms,
    outcome: row.outcome,
    errorCode: row.error_code,
    message: row.message,
    progress: row.progress,
  };
}

function checkText(field: string, value: unknown, max: number): string {
  if (typeof value !== 'string' || value === '' || value.length > max) {
    throw invalidValueError(field, `${field} is not a string of 1 to ${max} characters`);
  }
  return value;
}

function checkUuid(value: unknown): string {
  if (
    typeof value !== 'string' ||
    !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)
  ) {
    throw invalidValueError('reservationId', 'reservationId is not a UUID');
  }
  return value;
}
