import { silentLogger } from '@vlab/core';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/database/database.js';
import { EventAnnouncements } from '../src/database/event-announcements.js';
import { GAP_LIMIT_MS, GapClock, settledUpTo } from '../src/database/follow-events.js';
import { createHttpApi } from '../src/http/http-api.js';
import { type MemoryLabManager, startMemoryLabManager } from './memory-lab-manager.js';

let fixture: MemoryLabManager;
let api: FastifyInstance;
let base = '';
const token: Record<string, string> = {};

beforeAll(async () => {
  fixture = await startMemoryLabManager('event-streams');
  const m = fixture.manager;
  await m.users.add({ login: 'carol', role: 'user' });
  for (const login of ['alice', 'bob', 'carol']) {
    token[login] = (await m.apiTokens.issue(login, 'streams')).token.reveal();
  }
  api = await createHttpApi(m);
  base = await api.listen({ host: '127.0.0.1', port: 0 });
}, 120_000);

afterAll(async () => {
  await api?.close();
  await fixture?.cleanup();
});

interface Frame {
  readonly id: number;
  readonly event: string;
  readonly data: { kind: string; outcome: string | null; progress: unknown; reservationId: string };
}

/**
 * Reads a Server-Sent Events stream over HTTP until `done` says so, then hangs up. Parses the
 * frames as a browser's EventSource does: fields up to a blank line, comments ignored.
 */
async function readStream(
  path: string,
  who: string,
  done: (frames: Frame[]) => boolean,
  lastEventId?: number,
): Promise<{ frames: Frame[]; status: number; type: string | null }> {
  const controller = new AbortController();
  const headers: Record<string, string> = { authorization: `Bearer ${token[who]}` };
  if (lastEventId !== undefined) headers['last-event-id'] = String(lastEventId);
  const response = await fetch(`${base}/api/v1${path}`, { headers, signal: controller.signal });
  const frames: Frame[] = [];
  if (response.status !== 200) {
    await response.text();
    return { frames, status: response.status, type: response.headers.get('content-type') };
  }
  if (response.body === null) throw new Error('the stream has no body');
  const decoder = new TextDecoder();
  let buffered = '';
  try {
    for await (const chunk of response.body) {
      buffered += decoder.decode(chunk, { stream: true });
      let end = buffered.indexOf('\n\n');
      while (end >= 0) {
        const block = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const fields = new Map<string, string>();
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          fields.set(line.slice(0, colon), line.slice(colon + 1).trimStart());
        }
        if (fields.has('data')) {
          frames.push({
            id: Number(fields.get('id')),
            event: fields.get('event') ?? 'message',
            data: JSON.parse(fields.get('data') ?? 'null'),
          });
        }
        if (done(frames))
          return { frames, status: 200, type: response.headers.get('content-type') };
        end = buffered.indexOf('\n\n');
      }
    }
  } finally {
    controller.abort();
  }
  throw new Error(`the stream ended after ${frames.length} events`);
}

const readyIn = (frames: Frame[]) => frames.some((f) => f.event === 'ready');

describe('event streams', () => {
  let id = '';
  let all: Frame[] = [];

  it("stream a reservation's steps and progress samples, in id order, to its user", async () => {
    const made = await fetch(`${base}/api/v1/reservations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token['bob']}`, 'content-type': 'application/json' },
      body: JSON.stringify({ image: 'base', minutes: 30 }),
    });
    id = ((await made.json()) as { id: string }).id;
    const read = await readStream(`/reservations/${id}/stream`, 'bob', readyIn);
    expect(read.type).toBe('text/event-stream; charset=utf-8');
    all = read.frames;
    const ids = all.map((f) => f.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(ids.length);
    expect(all.every((f) => f.data.reservationId === id && f.event === f.data.kind)).toBe(true);
    const kinds = all.map((f) => f.event);
    expect(kinds).toEqual(expect.arrayContaining(['assign', 'load', 'reserve', 'ready']));
    expect(all.filter((f) => f.event === 'progress').length).toBeGreaterThan(0);
    const sample = all.find((f) => f.event === 'progress');
    expect(sample?.data.progress).toMatchObject({
      unit: expect.any(String),
      done: expect.any(Number),
    });
    // The same as the stored events, progress samples left out.
    const stored = await fixture.manager.events({ reservationId: id, limit: 1000 });
    expect(all.filter((f) => f.event !== 'progress').map((f) => f.id)).toEqual(
      stored.filter((e) => e.id <= (ids.at(-1) ?? 0)).map((e) => e.id),
    );
  });

  it('resume after Last-Event-ID with exactly the events after it', async () => {
    const from = all[1]?.id ?? 0;
    const read = await readStream(`/reservations/${id}/stream`, 'bob', readyIn, from);
    expect(read.frames.map((f) => f.id)).toEqual(all.slice(2).map((f) => f.id));
  });

  it("are not found for another user's reservation, and the lab's stream is for admins", async () => {
    expect((await readStream(`/reservations/${id}/stream`, 'carol', () => true)).status).toBe(404);
    expect((await readStream('/events/stream', 'bob', () => true)).status).toBe(403);
    const lab = await readStream('/events/stream?progress=false', 'alice', readyIn);
    expect(lab.frames.some((f) => f.event === 'progress')).toBe(false);
  });

  it('deliver an event another manager records, announced by the database', async () => {
    const announcements = await EventAnnouncements.start(fixture.url, silentLogger);
    try {
      const seen = announcements.generation;
      const signal = new AbortController();
      const woken = announcements.next(seen, 600_000, signal.signal);
      await fixture.sql(
        "INSERT INTO events (kind, reservation_id, message) VALUES ('note', $1, 'from elsewhere')",
        [id],
      );
      await woken;
      expect(announcements.generation).toBeGreaterThan(seen);
    } finally {
      await announcements.close();
    }
    const last = all.at(-1)?.id ?? 0;
    const read = await readStream(
      `/reservations/${id}/stream`,
      'bob',
      (frames) => frames.some((f) => f.event === 'note'),
      last,
    );
    expect(read.frames.find((f) => f.event === 'note')?.data).toMatchObject({
      kind: 'note',
      reservationId: id,
    });
  });

  it('hold back an event while a transaction holds a lower id, whichever transaction began first', async () => {
    const holder = new pg.Client({ connectionString: fixture.url.reveal() });
    const other = new pg.Client({ connectionString: fixture.url.reveal() });
    await holder.connect();
    await other.connect();
    const { db, close } = await openDatabase({ url: fixture.url, log: silentLogger });
    const insert = (client: pg.Client, message: string) =>
      client
        .query<{ id: string }>(
          "INSERT INTO events (kind, message) VALUES ('held', $1) RETURNING id",
          [message],
        )
        .then((r) => Number(r.rows[0]?.id));
    try {
      for (const holderBeganFirst of [true, false]) {
        const gaps = new GapClock(() => 0);
        await holder.query('BEGIN');
        await other.query('BEGIN');
        // The transaction that begins first takes its transaction id first.
        const [early, late] = holderBeganFirst ? [holder, other] : [other, holder];
        await early.query('SELECT pg_current_xact_id()');
        await late.query('SELECT pg_current_xact_id()');
        const lower = await insert(holder, 'lower id, committed last');
        const higher = await insert(other, 'higher id, committed first');
        expect(higher).toBeGreaterThan(lower);
        await other.query('COMMIT');
        // The higher id is committed and visible, but a follower must not pass it on yet:
        // resuming after it would skip the lower one.
        expect(await fixture.sql('SELECT id FROM events WHERE id = $1', [higher])).toHaveLength(1);
        expect(await settledUpTo(db, lower - 1, gaps)).toEqual({ id: lower - 1, more: false });
        await holder.query('COMMIT');
        expect(await settledUpTo(db, lower - 1, gaps)).toEqual({ id: higher, more: false });
      }
    } finally {
      await holder.end();
      await other.end();
      await close();
    }
  });

  it('pass on the ids after a rolled-back one once it has been missing for the limit', async () => {
    const client = new pg.Client({ connectionString: fixture.url.reveal() });
    await client.connect();
    const { db, close } = await openDatabase({ url: fixture.url, log: silentLogger });
    let now = 0;
    const gaps = new GapClock(() => now);
    try {
      await client.query('BEGIN');
      const lost = await client.query<{ id: string }>(
        "INSERT INTO events (kind, message) VALUES ('held', 'rolled back') RETURNING id",
      );
      await client.query('ROLLBACK');
      const gap = Number(lost.rows[0]?.id);
      const [after] = await fixture.sql<{ id: number }>(
        "INSERT INTO events (kind, message) VALUES ('held', 'after the gap') RETURNING id",
      );
      expect(await settledUpTo(db, gap - 1, gaps)).toEqual({ id: gap - 1, more: false });
      now = GAP_LIMIT_MS - 1;
      expect((await settledUpTo(db, gap - 1, gaps)).id).toBe(gap - 1);
      now = GAP_LIMIT_MS;
      expect((await settledUpTo(db, gap - 1, gaps)).id).toBe(Number(after?.id));
    } finally {
      await client.end();
      await close();
    }
  });
});
