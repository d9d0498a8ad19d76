import { isVlabError } from '@vlab/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LabDatabaseHandle, openDatabase } from '../../src/database/database.js';
import { listEvents, MAX_EVENT_MESSAGE, recordEvent } from '../../src/database/events.js';
import { startTestPostgres, type TestPostgres } from './lab-postgres.js';

let lab: TestPostgres;
let database: LabDatabaseHandle;
let reservationId: string;

beforeAll(async () => {
  lab = await startTestPostgres('events');
  database = await openDatabase({ url: lab.server.url, log: lab.log });
  const { db } = database;
  await db.insertInto('images').values({ name: 'ubuntu', os_family: 'linux' }).execute();
  await db
    .insertInto('revisions')
    .values({
      image: 'ubuntu',
      revision: 1,
      state: 'production',
      sha256: 'a'.repeat(64),
      size_bytes: 2 ** 40,
    })
    .execute();
  const reservation = await db
    .insertInto('reservations')
    .values({
      request_id: 'req-1',
      image: 'ubuntu',
      revision: 1,
      logins: JSON.stringify(['alice']),
      state: 'pending',
      starts_at: new Date('2030-01-01T10:00:00Z'),
      ends_at: new Date('2030-01-01T12:00:00Z'),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  reservationId = reservation.id;
});

afterAll(async () => {
  await database?.close();
  await lab?.cleanup();
});

describe('events', () => {
  it('records events and lists them by reservation, computer and page', async () => {
    const { db } = database;
    const first = await recordEvent(db, {
      kind: 'load',
      reservationId,
      computer: 'node1',
      step: 'writing the disk',
      durationMs: 12_345,
      outcome: 'ok',
    });
    expect(first).toMatchObject({
      kind: 'load',
      reservationId,
      computer: 'node1',
      durationMs: 12_345,
      outcome: 'ok',
      errorCode: null,
      message: null,
    });
    expect(typeof first.id).toBe('number');
    expect(first.at).toBeInstanceOf(Date);
    await recordEvent(db, {
      kind: 'power',
      computer: 'node2',
      outcome: 'failed',
      errorCode: 'VLAB_ERR_OP_TIMEOUT',
      message: 'no answer',
    });
    const third = await recordEvent(db, { kind: 'reservation.ready', reservationId });

    expect((await listEvents(db, { reservationId, limit: 10 })).map((event) => event.id)).toEqual([
      first.id,
      third.id,
    ]);
    expect(
      (await listEvents(db, { computer: 'node2', limit: 10 })).map((event) => event.kind),
    ).toEqual(['power']);
    const page1 = await listEvents(db, { limit: 2 });
    const page2 = await listEvents(db, { limit: 2, after: page1.at(-1)?.id });
    expect([...page1, ...page2].map((event) => event.kind)).toEqual([
      'load',
      'power',
      'reservation.ready',
    ]);
    expect(await listEvents(db, { limit: 2, after: third.id })).toEqual([]);

    // Reading the revision back: bigint columns come back as numbers.
    const revision = await db
      .selectFrom('revisions')
      .select('size_bytes')
      .executeTakeFirstOrThrow();
    expect(revision.size_bytes).toBe(2 ** 40);
  });

  it('cuts long messages and refuses bad fields', async () => {
    const { db } = database;
    const long = await recordEvent(db, {
      kind: 'note',
      message: 'x'.repeat(MAX_EVENT_MESSAGE + 50),
    });
    expect(long.message).toHaveLength(MAX_EVENT_MESSAGE);
    expect(long.message?.endsWith('…')).toBe(true);

    const bad = [
      { kind: '' },
      { kind: 'x', durationMs: -1 },
      { kind: 'x', durationMs: 1.5 },
      { kind: 'x', errorCode: 'ERR_SOMETHING' },
      { kind: 'x', outcome: 'maybe' },
      { kind: 'x', reservationId: 'not-a-uuid' },
    ];
    const before = (await listEvents(db, { limit: 1000 })).length;
    for (const event of bad) {
      const error = await recordEvent(db, event as never).catch((caught: unknown) => caught);
      expect(isVlabError(error, 'VLAB_ERR_CONFIG_INVALID'), JSON.stringify(event)).toBe(true);
    }
    expect((await listEvents(db, { limit: 1000 })).length).toBe(before);
    for (const limit of [0, 1001, 2.5]) {
      const error = await listEvents(db, { limit }).catch((caught: unknown) => caught);
      expect(isVlabError(error, 'VLAB_ERR_CONFIG_INVALID')).toBe(true);
    }
  });

  it('go away with their reservation', async () => {
    const { db } = database;
    await db.deleteFrom('reservations').where('id', '=', reservationId).execute();
    expect(await listEvents(db, { reservationId, limit: 10 })).toEqual([]);
    expect((await listEvents(db, { computer: 'node2', limit: 10 })).length).toBe(1);
  });
});
