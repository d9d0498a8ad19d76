import { type Kysely, sql } from 'kysely';
import type { EventAnnouncements } from './event-announcements.js';
import { type EventQuery, type LabEvent, listEvents } from './events.js';
import type { LabDatabase } from './schema.js';

/** What `Manager.followEvents` follows: an {@link EventQuery} without its page size. @public */
export type FollowQuery = Omit<EventQuery, 'limit'>;

const PAGE = 200;
/** How many ids one look at the sequence reads. */
const SCAN = 1000;
/**
 * How often a follower looks again without an announcement: for events held back behind a
 * missing id (their announcement came already).
 */
const RECHECK_MS = 1000;
/** How long a missing id holds back the ids after it: then it counts as rolled back. */
export const GAP_LIMIT_MS = 10_000;

/**
 * The events of `query` after `query.after`, oldest first, then each new one as it is recorded by
 * any manager sharing the database, until `signal` aborts (the iteration then ends quietly).
 *
 * @remarks
 * Event ids come from a sequence as rows are inserted, not as their transactions commit: a row
 * with a higher id can be seen while a transaction still holds a lower one (and a transaction that
 * holds an id can have begun before or after the one that committed the higher id). A follower
 * therefore passes on only ids below the first missing one; a missing id that stays missing for
 * {@link GAP_LIMIT_MS} counts as rolled back and stops holding back the rest. So resuming after
 * the last id seen misses nothing a transaction shorter than that limit wrote.
 */
export async function* followEvents(
  db: Kysely<LabDatabase>,
  announcements: EventAnnouncements,
  query: FollowQuery,
  signal: AbortSignal,
): AsyncGenerator<LabEvent> {
  let after = query.after ?? 0;
  const gaps = new GapClock();
  while (!signal.aborted) {
    const seen = announcements.generation;
    const settled = await settledUpTo(db, after, gaps);
    let full = false;
    if (settled.id > after) {
      const events = await listEvents(
        db,
        { ...query, after, limit: PAGE },
        sql<boolean>`id <= ${settled.id}`,
      );
      for (const event of events) {
        if (signal.aborted) return;
        yield event;
        after = event.id;
      }
      full = events.length === PAGE;
      if (!full) after = settled.id;
    }
    if (full || settled.more) continue;
    try {
      await announcements.next(seen, RECHECK_MS, signal);
    } catch {
      return;
    }
  }
}

/** When each missing id was first found missing (by the first id of its gap). */
export class GapClock {
  readonly #firstSeen = new Map<number, number>();
  readonly #now: () => number;

  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  /** Whether the gap starting at `id` has been missing for {@link GAP_LIMIT_MS}. */
  expired(id: number): boolean {
    const now = this.#now();
    const first = this.#firstSeen.get(id);
    if (first === undefined) this.#firstSeen.set(id, now);
    return first !== undefined && now - first >= GAP_LIMIT_MS;
  }

  /** Forgets the gaps at or below `id`: they are passed. */
  forgetUpTo(id: number): void {
    for (const start of this.#firstSeen.keys()) if (start <= id) this.#firstSeen.delete(start);
  }
}

/**
 * The highest id such that every id after `after` up to it is visible, or missing for longer than
 * {@link GAP_LIMIT_MS}; `more` when the look read a whole scan and there may be more.
 */
export async function settledUpTo(
  db: Kysely<LabDatabase>,
  after: number,
  gaps: GapClock,
): Promise<{ readonly id: number; readonly more: boolean }> {
  const rows = await db
    .selectFrom('events')
    .select('id')
    .where('id', '>', after)
    .orderBy('id')
    .limit(SCAN)
    .execute();
  let id = after;
  for (const row of rows) {
    if (row.id !== id + 1 && !gaps.expired(id + 1)) {
      gaps.forgetUpTo(id);
      return { id, more: false };
    }
    id = row.id;
  }
  gaps.forgetUpTo(id);
  return { id, more: rows.length === SCAN };
}
