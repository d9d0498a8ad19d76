import { type Kysely, type Migration, sql } from 'kysely';

/* Frozen once released, like 0001. */
const STATEMENTS: readonly string[] = [
  // The transaction that recorded the event: a stream passes an event on only once every
  // transaction that could still add a lower id has ended, so it never skips one.
  'ALTER TABLE events ADD COLUMN tx xid8 NOT NULL DEFAULT pg_current_xact_id()',
  // A progress sample's figures (unit, done, total, rate, ETA); its phase is the event's step.
  `ALTER TABLE events ADD COLUMN progress jsonb
    CHECK (progress IS NULL OR jsonb_typeof(progress) = 'object')`,
  // Every manager's streams learn of a new event at its commit, whichever manager wrote it.
  `CREATE FUNCTION vlab_announce_event() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify('vlab_events', NEW.id::text);
      RETURN NULL;
    END
  $$`,
  `CREATE TRIGGER events_announce AFTER INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION vlab_announce_event()`,
];

/** Progress samples among the events, and a notification for each new event. */
export const eventStream: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
  },
};
