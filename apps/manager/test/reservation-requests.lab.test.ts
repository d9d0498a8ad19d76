import { randomUUID } from 'node:crypto';
import { isVlabError, type LogRecord, type Secret, type VlabError } from '@vlab/core';
import type { MemoryLab } from '@vlab/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReservationRequest, ReservationStatus } from '../src/engine/reservations.js';
import type { Manager } from '../src/manager.js';
import { query } from './database/lab-postgres.js';
import { type MemoryLabManager, startMemoryLabManager, untilState } from './memory-lab-manager.js';

// Bad input to manager.reservations (request, end, extend, get) through createManager, on the
// memory lab's fixture modules and a real PostgreSQL: every refusal is a typed vlab error naming
// the field, and writes no reservation row and starts no DBOS workflow.

let fixture: MemoryLabManager;
let records: LogRecord[];
let lab: MemoryLab;
let url: Secret;
let manager: Manager;

/** Follows the reservation until it is in one of `states`. */
const until = (id: string, states: readonly ReservationStatus['state'][]) =>
  untilState(manager, id, states);

/** The rows of `reservations` and of DBOS's `workflow_status`. */
async function counts(): Promise<{ reservations: number; workflows: number }> {
  const [row] = await query<{ reservations: number; workflows: number }>(
    url,
    `SELECT (SELECT count(*) FROM reservations)::int AS reservations,
            (SELECT count(*) FROM dbos.workflow_status)::int AS workflows`,
  );
  return row as { reservations: number; workflows: number };
}

/**
 * Runs `action`, which must fail with a vlab error of `code` whose summary contains each of
 * `names`, and change neither count; returns the error.
 */
async function refused(
  action: () => Promise<unknown>,
  code: string,
  ...names: string[]
): Promise<VlabError> {
  const before = await counts();
  const error = await action().then(
    (value) => new Error(`accepted: ${JSON.stringify(value)}`),
    (e: unknown) => e,
  );
  expect(isVlabError(error, code), `${code} expected, got ${String(error)}`).toBe(true);
  const vlab = error as VlabError;
  for (const name of names) expect(vlab.summary).toContain(name);
  expect(await counts()).toEqual(before);
  return vlab;
}

/** A request for `base` by alice and bob, with `changes` (any shape: the point is bad input). */
function request(changes: Record<string, unknown>): Promise<ReservationStatus> {
  const base = { requestId: `bad-${randomUUID()}`, image: 'base', minutes: 60 };
  return manager.reservations.request({
    ...base,
    logins: ['alice', 'bob'],
    ...changes,
  } as unknown as ReservationRequest);
}

/** A request that must be refused with VLAB_ERR_REQUEST_INVALID for `field`. */
async function invalid(field: string, changes: Record<string, unknown>): Promise<void> {
  const error = await refused(() => request(changes), 'VLAB_ERR_REQUEST_INVALID', field);
  expect(error.details['field']).toBe(field);
}

/** A short, printable label of a corpus entry for the test's name. */
const label = (value: unknown): string => {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
};

/** A name a request may carry at all: 1 to 200 characters, none of them a control character or a line separator. */
const wellFormed = (name: string): boolean =>
  name.length > 0 && name.length <= 200 && /^[^\p{Cc}\u2028\u2029]+$/u.test(name);

// The hostile names and logins of packages/os-linux/test, and more.
const HOSTILE: readonly string[] = [
  ...new Set([
    "x'; rm -rf / #",
    'eve\nroot',
    'évé',
    'Alice',
    '-rf',
    'a'.repeat(33),
    '',
    'root',
    'alice; reboot',
    '../etc',
    'A',
    'x; reboot',
    'messagebus; id',
    `Alice "Al" O'Brien $(touch /root/pwned1) \`touch /root/pwned2\` ; rm -rf / # ✓ Ünïcødé`,
    "'; rm -rf / #",
    '$(reboot)',
    '`id`',
    'a\nb',
    'ROOT',
    'ünïcode',
    'a b',
    'a'.repeat(40),
    '\u202e',
    'alice\u202e',
    '🦀',
    'a\u0000b',
    '\u0000',
    'a\u2028b',
    'alice\r',
    ' alice',
    'alice ',
    'alice\t',
    '.',
    '..',
    '*',
    'alice/../bob',
    '%s%n',
    '\ud800',
    "'; DROP TABLE reservations; --",
    'daemon',
    'nobody',
    'sshd',
    'vlab',
    'x'.repeat(10_000),
  ]),
];

beforeAll(async () => {
  fixture = await startMemoryLabManager('reservation-requests');
  ({ manager, lab, url, records } = fixture);
}, 120_000);

afterAll(async () => {
  await fixture?.cleanup();
});

describe('a refused reservation request creates nothing', () => {
  it('starts with no reservation and no workflow', async () => {
    expect(await counts()).toEqual({ reservations: 0, workflows: 0 });
    expect(manager.config.policies.reservation.maxHours).toBe(24);
  });

  it.each([
    ['negative', -1],
    ['zero', 0],
    ['fractional', 1.5],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['-Infinity', Number.NEGATIVE_INFINITY],
    ['a string', '60'],
    ['null', null],
    ['missing', undefined],
    ['one over maxHours × 60', 24 * 60 + 1],
    ['far over the limit', Number.MAX_SAFE_INTEGER],
    ['beyond safe integers', 2 ** 60],
  ])('refuses minutes %s', async (_, minutes) => {
    await invalid('minutes', { minutes });
  });

  it.each([
    ['empty', ''],
    ['201 characters', 'r'.repeat(201)],
    ['with a newline', 'req\n1'],
    ['with a NUL', 'req\u00001'],
    ['with U+2028', 'req\u20281'],
    ['with U+2029', 'req\u20291'],
    ['with a C1 control', 'req\u00851'],
    ['a number', 42],
    ['missing', undefined],
  ])('refuses the requestId %s', async (_, requestId) => {
    await invalid('requestId', { requestId });
  });

  it.each([
    ['an empty list', []],
    ['not an array', 'alice'],
    ['an object', { 0: 'alice', length: 1 }],
    ['missing', undefined],
    ['65 logins', Array.from({ length: 65 }, (_, i) => `user${i}`)],
    ['a login twice', ['alice', 'bob', 'alice']],
    ['a number', ['alice', 42]],
    ['null', ['alice', null]],
  ])('refuses logins that are %s', async (_, logins) => {
    await invalid('logins', { logins });
  });

  it.each(HOSTILE.map((login) => [label(login), login]))(
    'refuses the hostile login %s',
    async (_, login) => {
      await invalid('logins', { logins: ['alice', login] });
    },
  );

  it.each([
    ['0', 0],
    ['-1', -1],
    ['1.5', 1.5],
    ['NaN', Number.NaN],
    ['a string', '1'],
    ['null', null],
  ])('refuses revision %s', async (_, revision) => {
    await invalid('revision', { revision });
  });

  it.each([
    ['empty', ''],
    ['a number', 42],
    ['missing', undefined],
  ])('refuses an image name that is %s', async (_, image) => {
    await invalid('image', { image });
  });

  it('refuses a computer name that is not a string', async () => {
    await invalid('computer', { computer: 7 });
  });

  it('refuses an unknown image with VLAB_ERR_IMAGE_UNKNOWN', async () => {
    await refused(() => request({ image: 'nope' }), 'VLAB_ERR_IMAGE_UNKNOWN', 'image', 'nope');
  });

  it.each(HOSTILE.map((name) => [label(name), name]))(
    'refuses the hostile image %s: malformed, or unknown',
    async (_, image) => {
      await refused(
        () => request({ image }),
        wellFormed(image) ? 'VLAB_ERR_IMAGE_UNKNOWN' : 'VLAB_ERR_REQUEST_INVALID',
        'image',
      );
    },
  );

  it('refuses a revision the known image does not have with VLAB_ERR_IMAGE_UNKNOWN', async () => {
    await refused(
      () => request({ image: 'base', revision: 99 }),
      'VLAB_ERR_IMAGE_UNKNOWN',
      'image base',
      'revision 99',
    );
  });

  it('refuses a valid but unregistered login with VLAB_ERR_USER_UNKNOWN', async () => {
    await refused(
      () => request({ logins: ['alice', 'carol'] }),
      'VLAB_ERR_USER_UNKNOWN',
      'carol',
      'registered user',
    );
  });

  it('refuses a computer that is not in the lab with VLAB_ERR_COMPUTER_UNAVAILABLE', async () => {
    await refused(
      () => request({ computer: 'nope' }),
      'VLAB_ERR_COMPUTER_UNAVAILABLE',
      'computer',
      'nope',
    );
  });

  it.each(HOSTILE.map((name) => [label(name), name]))(
    'refuses the hostile computer %s: malformed, or not in the lab',
    async (_, computer) => {
      await refused(
        () => request({ computer }),
        wellFormed(computer) ? 'VLAB_ERR_COMPUTER_UNAVAILABLE' : 'VLAB_ERR_REQUEST_INVALID',
        'computer',
      );
    },
  );

  it.each(['maintenance', 'failed'])(
    'refuses a computer in %s with VLAB_ERR_COMPUTER_UNAVAILABLE',
    async (state) => {
      const [before] = await query<{ state: string; maintenance_reason: string | null }>(
        url,
        "SELECT state, maintenance_reason FROM computers WHERE name = 'c2'",
      );
      expect(before?.state).toBe('available');
      await query(
        url,
        "UPDATE computers SET state = $1, maintenance_reason = 'test' WHERE name = 'c2'",
        [state],
      );
      try {
        await refused(
          () => request({ computer: 'c2' }),
          'VLAB_ERR_COMPUTER_UNAVAILABLE',
          'computer c2',
          state,
        );
      } finally {
        await query(
          url,
          'UPDATE computers SET state = $1, maintenance_reason = $2 WHERE name = $3',
          [before?.state, before?.maintenance_reason, 'c2'],
        );
      }
    },
  );
});

const UNKNOWN_IDS = [
  ['a random UUID', randomUUID()],
  ['a non-UUID string', 'not-a-uuid'],
  ['an SQL injection', "'; DROP TABLE reservations; --"],
  ['an upper-case non-UUID', 'ZZZZZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZZZZZZZZZ'],
  ['a UUID with a newline', `${randomUUID()}\n`],
  ['a UUID with a NUL', `${randomUUID()}\u0000`],
  ['empty', ''],
] as const;

describe('an unknown reservation id', () => {
  it.each(UNKNOWN_IDS)('is not found by end: %s', async (_, id) => {
    await refused(
      () => manager.reservations.end(id, 'bad id'),
      'VLAB_ERR_RESERVATION_NOT_FOUND',
      'id',
    );
  });

  it.each(UNKNOWN_IDS)('is not found by extend: %s', async (_, id) => {
    await refused(
      () => manager.reservations.extend(id, 30),
      'VLAB_ERR_RESERVATION_NOT_FOUND',
      'id',
    );
  });

  it.each(UNKNOWN_IDS)('is undefined for get: %s', async (_, id) => {
    const before = await counts();
    expect(await manager.reservations.get(id)).toBeUndefined();
    expect(await counts()).toEqual(before);
  });

  it('of another type is undefined for get and not found by end', async () => {
    expect(await manager.reservations.get(42 as unknown as string)).toBeUndefined();
    await refused(
      () => manager.reservations.end(null as unknown as string),
      'VLAB_ERR_RESERVATION_NOT_FOUND',
      'id',
    );
  });
});

describe('an existing reservation', () => {
  let id: string;
  const requestId = `good-${randomUUID()}`;

  /** The reservation's rows and its parent workflows (`reservation:<id>`, nothing after). */
  async function rowsAndWorkflows(): Promise<{ rows: number; parents: number }> {
    const rows = await query(url, 'SELECT 1 FROM reservations WHERE request_id = $1', [requestId]);
    const workflows = await query<{ workflow_uuid: string }>(
      url,
      'SELECT workflow_uuid FROM dbos.workflow_status WHERE workflow_uuid LIKE $1',
      [`reservation:${id}%`],
    );
    const prefix = `reservation:${id}`;
    const parents = workflows.filter((w) => !w.workflow_uuid.slice(prefix.length).includes(':'));
    return { rows: rows.length, parents: parents.length };
  }

  it('is created once for a request sent twice at once, with one workflow', async () => {
    const before = await counts();
    const good = { requestId, image: 'base', minutes: 60, logins: ['alice', 'bob'] };
    const [first, second] = await Promise.all([
      manager.reservations.request(good),
      manager.reservations.request(good),
    ]);
    id = first.id;
    expect(second.id).toBe(id);
    expect((await counts()).reservations).toBe(before.reservations + 1);
    expect(await rowsAndWorkflows()).toEqual({ rows: 1, parents: 1 });
    const ready = await until(id, ['ready', 'failed']);
    expect(ready.state).toBe('ready');
  });

  it('is found again by a repeated request, even with other fields, creating nothing', async () => {
    const before = await counts();
    const again = await manager.reservations.request({
      requestId,
      image: 'base',
      minutes: 60,
      logins: ['alice', 'bob'],
    });
    const other = await manager.reservations.request({
      requestId,
      image: 'base',
      minutes: 5,
      logins: ['bob'],
    });
    expect(again.id).toBe(id);
    expect(other.id).toBe(id);
    expect(other.logins).toEqual(['alice', 'bob']);
    expect(await counts()).toEqual(before);
    expect(await rowsAndWorkflows()).toEqual({ rows: 1, parents: 1 });
  });

  it.each([
    ['0', 0],
    ['-5', -5],
    ['1.5', 1.5],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['a string', '5'],
  ])('refuses to extend it by %s minutes', async (_, minutes) => {
    const before = await manager.reservations.get(id);
    const error = await refused(
      () => manager.reservations.extend(id, minutes as number),
      'VLAB_ERR_REQUEST_INVALID',
      'minutes',
    );
    expect(error.details['field']).toBe('minutes');
    expect((await manager.reservations.get(id))?.endsAt).toEqual(before?.endsAt);
  });

  it('refuses to extend it beyond policies.reservation.maxHours', async () => {
    const before = (await manager.reservations.get(id)) as ReservationStatus;
    const max = manager.config.policies.reservation.maxHours * 60;
    const left = Math.round(
      (before.startsAt.getTime() + max * 60_000 - before.endsAt.getTime()) / 60_000,
    );
    for (const minutes of [left + 1, max, max * 10]) {
      const error = await refused(
        () => manager.reservations.extend(id, minutes),
        'VLAB_ERR_REQUEST_INVALID',
        'minutes',
        String(max),
      );
      expect(error.details['field']).toBe('minutes');
    }
    expect((await manager.reservations.get(id))?.endsAt).toEqual(before.endsAt);
    expect((await manager.reservations.get(id))?.state).toBe('ready');
  });

  it('ends, and can then be neither extended nor requested anew', async () => {
    await manager.reservations.end(id, 'bad input checked');
    expect(await until(id, ['ended', 'failed'])).toMatchObject({
      state: 'ended',
      endReason: 'bad input checked',
    });
    const error = await refused(
      () => manager.reservations.extend(id, 5),
      'VLAB_ERR_REQUEST_INVALID',
      'id',
      'ended',
    );
    expect(error.details['field']).toBe('id');
    // Ending it again does nothing; a repeated request finds it, ended, and starts nothing.
    const before = await counts();
    await manager.reservations.end(id, 'again');
    const repeated = await manager.reservations.request({
      requestId,
      image: 'base',
      minutes: 60,
      logins: ['alice', 'bob'],
    });
    expect(repeated).toMatchObject({ id, state: 'ended', endReason: 'bad input checked' });
    expect(await counts()).toEqual(before);
    expect(await rowsAndWorkflows()).toEqual({ rows: 1, parents: 1 });
  });
});

describe('a hostile end reason', () => {
  it('is refused as invalid, or the reservation still ends', async () => {
    const started = await manager.reservations.request({
      requestId: `nul-reason-${randomUUID()}`,
      image: 'base',
      minutes: 60,
      logins: ['bob'],
    });
    expect((await until(started.id, ['ready', 'failed'])).state).toBe('ready');
    const reason = 'done\u0000; rm -rf / #\n\u2028';
    const error = await manager.reservations.end(started.id, reason).then(
      () => undefined,
      (e: unknown) => e,
    );
    if (error !== undefined) {
      expect(isVlabError(error, 'VLAB_ERR_REQUEST_INVALID'), String(error)).toBe(true);
      await manager.reservations.end(started.id, 'plain reason');
    }
    expect((await until(started.id, ['ended', 'failed'])).state).toBe('ended');
  });
});

describe('secrets', () => {
  it('reach no log record', () => {
    const bmc = lab.secretEnv['VLAB_MEMORY_BMC_PASSWORD'] as string;
    const database = decodeURIComponent(new URL(url.reveal()).password);
    expect(bmc.length).toBeGreaterThan(8);
    expect(database.length).toBeGreaterThan(8);
    expect(records.length).toBeGreaterThan(0);
    const text = JSON.stringify(records, (_, value: unknown) =>
      value instanceof Error ? { ...value, message: value.message, stack: value.stack } : value,
    );
    expect(text).not.toContain(bmc);
    expect(text).not.toContain(database);
    expect(text).not.toContain(encodeURIComponent(database));
  });
});
