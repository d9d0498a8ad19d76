import { LOGIN_PATTERN } from '@vlab/core';
import { z } from 'zod';
import {
  COMPUTER_STATES,
  EVENT_OUTCOMES,
  NEW_REVISION_TESTS,
  RESERVATION_STATES,
  REVISION_STATES,
  USER_ROLES,
} from '../database/schema.js';
import { MAX_MAINTENANCE_REASON, MAX_RELOAD_REQUEST_ID } from '../engine/computers.js';
import {
  MAX_END_REASON,
  MAX_NAME,
  MAX_REQUEST_ID,
  MAX_RESERVATION_USERS,
} from '../engine/reservations.js';
import { MAX_TOKEN_NAME } from './api-tokens.js';

/*
 * The HTTP API's bodies, one set for validation, serialisation and the OpenAPI document. Request
 * objects are strict: an unknown field is refused, not ignored, so a misspelt option never
 * passes silently.
 */

/** A zod enum of one of the schema's value lists (each has at least one value). */
function oneOf<T extends string>(values: readonly T[]) {
  return z.enum(values as readonly [T, ...T[]]);
}

const time = z.iso.datetime({ offset: true }).describe('RFC 3339 time');
const login = z.string().regex(LOGIN_PATTERN).describe('A login of the lab');
const name = z.string().min(1).max(MAX_NAME);
const uuid = z.uuid();

export const errorSchema = z
  .object({
    error: z.object({
      code: z.string().describe('VLAB_ERR_… code; docs/errors.md lists them'),
      message: z.string().describe('What is wrong'),
      hint: z.string().describe('What to do'),
      requestId: z.string().describe("The request's id in the manager's log"),
    }),
  })
  .meta({ id: 'Error' });

export const userSchema = z
  .object({ login, role: oneOf(USER_ROLES), displayName: z.string() })
  .meta({ id: 'User' });

export const computerSchema = z
  .object({
    name: z.string(),
    provisioner: z.string(),
    state: oneOf(COMPUTER_STATES),
    maintenanceReason: z.string().nullable(),
    maintenanceRequested: z.string().nullable(),
    loaded: z.object({ image: z.string(), revision: z.int() }).nullable(),
    tainted: z.boolean(),
    power: z.object({ state: z.enum(['on', 'off', 'unknown']), checkedAt: time.nullable() }),
  })
  .meta({ id: 'Computer' });

export const revisionSchema = z
  .object({
    revision: z.int(),
    state: oneOf(REVISION_STATES),
    sizeBytes: z.int().nullable(),
    capturedFrom: z.string().nullable(),
    failure: z.string().nullable(),
  })
  .meta({ id: 'Revision' });

export const imageSchema = z
  .object({
    name: z.string(),
    osFamily: z.string(),
    owner: z.string().nullable(),
    newRevisionTest: oneOf(NEW_REVISION_TESTS),
    revisions: z.array(revisionSchema),
  })
  .meta({ id: 'Image' });

export const reservationStateSchema = oneOf(RESERVATION_STATES);

export const reservationSchema = z
  .object({
    id: uuid,
    requestId: z.string(),
    image: z.string(),
    revision: z.int(),
    computer: z.string().nullable(),
    logins: z.array(z.string()),
    state: reservationStateSchema,
    startsAt: time,
    endsAt: time,
    readyAt: time.nullable(),
    connectedAt: time.nullable(),
    endedAt: time.nullable(),
    endReason: z.string().nullable(),
    access: z.array(
      z.object({
        login: z.string(),
        protocol: z.enum(['ssh', 'rdp']),
        host: z.string(),
        port: z.int(),
      }),
    ),
  })
  .meta({ id: 'Reservation' });

export const reservationRequestSchema = z.strictObject({
  requestId: z
    .string()
    .min(1)
    .max(MAX_REQUEST_ID)
    .optional()
    .describe(
      'Your id of the request: sent again, it finds the first reservation. Default: a new UUID',
    ),
  image: name,
  revision: z.int().min(1).optional().describe('Default: the newest in production'),
  minutes: z.int().min(1).describe("How long; at most the lab's policy allows"),
  logins: z
    .array(login)
    .min(1)
    .max(MAX_RESERVATION_USERS)
    .optional()
    .describe('Who gets an account; default: you. A user who is not an admin must be one of them'),
  computer: name.optional().describe('Only this computer; default: the manager picks one'),
});

export const accessSchema = z
  .object({
    login: z.string(),
    protocol: z.enum(['ssh', 'rdp']),
    host: z.string(),
    port: z.int(),
    password: z.string().nullable().describe('The password the manager made for you, if any'),
    hostKeys: z
      .array(z.string())
      .describe(
        "The computer's SSH host keys as the manager pinned them (OpenSSH lines): check the host with them",
      ),
  })
  .meta({ id: 'Access' });

export const eventSchema = z
  .object({
    id: z.int(),
    at: time,
    reservationId: z.string().nullable(),
    computer: z.string().nullable(),
    kind: z.string(),
    step: z.string().nullable(),
    durationMs: z.int().nullable(),
    outcome: oneOf(EVENT_OUTCOMES).nullable(),
    errorCode: z.string().nullable(),
    message: z.string().nullable(),
    progress: z
      .object({
        unit: z.enum(['bytes', 'steps']),
        done: z.number(),
        total: z.number().nullable(),
        ratePerSecond: z.number().nullable(),
        etaSeconds: z.number().nullable(),
      })
      .nullable()
      .describe('The figures of a progress sample (kind "progress"; its phase is step)'),
  })
  .meta({ id: 'Event' });

export const tokenSchema = z
  .object({
    id: uuid,
    login: z.string(),
    name: z.string(),
    createdAt: time,
    lastUsedAt: time.nullable(),
  })
  .meta({ id: 'Token' });

export const limits = {
  maintenanceReason: z.string().min(1).max(MAX_MAINTENANCE_REASON),
  reloadRequestId: z.string().min(1).max(MAX_RELOAD_REQUEST_ID),
  endReason: z.string().min(1).max(MAX_END_REASON),
  tokenName: z.string().min(1).max(MAX_TOKEN_NAME),
  login,
  name,
  uuid,
};

/** A page of a list: `limit` items from `offset`, and the total. */
export function pageOf<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), total: z.int() });
}

export const pageQuery = {
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  offset: z.coerce.number().int().min(0).default(0),
};
