import { type Kysely, sql } from 'kysely';
import type { EventAnnouncements } from './event-announcements.js';
import { type EventQuery, type LabEvent, listEvents } from './events.js';
import type { LabDatabase } from './schema.js';

/** What `Manager.followEvents` follows: an {@link EventQuery} without its page size. @public */
export type FollowQuery = Omit<EventQuery, 'limit'>;

const PAGE = 200;
/**
 * How often a follower looks again without an announcement: for events held back by a
 * transaction that was still running at its last look (their announcement came already).
 */
const RECHECK_MS = 1000;
/** An event older than this is passed on even while an older transaction runs. */
const HOLD_LIMIT = "interval '10 seconds'";

/**
 * The events of `query` after `query.after`, oldest first, then each new one as it is recorded by
 * any manager sharing the database, until `signal` aborts (the iteration then ends quietly).
 *
 * @remarks
 * Event ids are given as rows are inserted, not as their transactions commit, so a row with a
 * higher id can be seen before one with a lower id. A follower therefore passes on only the
 * events of transactions older than every transaction still running (or older than 10 s): it
 * never skips an id it would see later, and resuming after the last id seen misses nothing.
 */
export async function* followEvents(
  db: Kysely<LabDatabase>,
  announcements: EventAnnouncements,
  query: FollowQuery,
  signal: AbortSignal,
): AsyncGenerator<LabEvent> {
  let after = query.after ?? 0;
  while (!signal.aborted) {
    const seen = announcements.generation;
    const events = await listEvents(db, { ...query, after, limit: PAGE }, settled);
    for (const event of events) {
      if (signal.aborted) return;
      yield event;
      after = event.id;
    }
    if (events.length === PAGE) continue;
    try {
      await announcements.next(seen, RECHECK_MS, signal);
    } catch {
      return;
    }
  }
}

/**
 * Only rows whose transaction ended before every running one began, or older than the limit:
 * no running transaction can add a lower id than theirs any more.
 */
export const settled = sql<boolean>`(tx < pg_snapshot_xmin(pg_current_snapshot()) OR at < now() - ${sql.raw(HOLD_LIMIT)})`;
