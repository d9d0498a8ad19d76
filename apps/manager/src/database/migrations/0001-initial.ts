import { type Kysely, type Migration, sql } from 'kysely';

/*
 * Frozen once released: a migration that ran on a lab's database is never edited, only followed by
 * a new one. So the enum lists are written out here, not taken from schema.ts.
 */
const STATEMENTS: readonly string[] = [
  `CREATE TABLE users (
    login text PRIMARY KEY CHECK (login ~ '^[a-z_][a-z0-9_-]{0,31}$'),
    display_name text NOT NULL DEFAULT '' CHECK (char_length(display_name) <= 200),
    ssh_keys jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(ssh_keys) = 'array'),
    role text NOT NULL CHECK (role IN ('admin', 'user')),
    allow_from jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(allow_from) = 'array'),
    created_at timestamptz NOT NULL DEFAULT now()
  )`,
  `CREATE TABLE images (
    name text PRIMARY KEY CHECK (name <> ''),
    os_family text NOT NULL CHECK (os_family <> ''),
    owner text REFERENCES users (login) ON DELETE RESTRICT,
    new_revision_test text NOT NULL DEFAULT 'auto'
      CHECK (new_revision_test IN ('auto', 'manual', 'off'))
  )`,
  `CREATE TABLE revisions (
    image text NOT NULL REFERENCES images (name) ON DELETE RESTRICT,
    revision integer NOT NULL CHECK (revision >= 1),
    state text NOT NULL
      CHECK (state IN ('capturing', 'testing', 'production', 'retired', 'failed')),
    sha256 text CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size_bytes bigint CHECK (size_bytes >= 0),
    stored_bytes bigint CHECK (stored_bytes >= 0),
    captured_from text,
    capture_started_at timestamptz,
    test_computer text,
    failure text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (image, revision),
    CHECK (state NOT IN ('testing', 'production') OR (sha256 IS NOT NULL AND size_bytes IS NOT NULL))
  )`,
  `CREATE TABLE computers (
    name text PRIMARY KEY CHECK (name <> ''),
    provisioner text NOT NULL CHECK (provisioner <> ''),
    state text NOT NULL
      CHECK (state IN ('available', 'loading', 'reserved', 'reclaiming', 'maintenance', 'failed')),
    maintenance_reason text,
    maintenance_requested text,
    reload_request text,
    power text NOT NULL DEFAULT 'unknown' CHECK (power IN ('on', 'off', 'unknown')),
    power_checked_at timestamptz,
    failed_checks integer NOT NULL DEFAULT 0 CHECK (failed_checks >= 0),
    loaded_image text,
    loaded_revision integer,
    tainted boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((loaded_image IS NULL) = (loaded_revision IS NULL)),
    FOREIGN KEY (loaded_image, loaded_revision) REFERENCES revisions (image, revision)
      ON DELETE SET NULL
  )`,
  `CREATE TABLE reservations (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    request_id text NOT NULL UNIQUE CHECK (request_id <> ''),
    image text NOT NULL,
    revision integer NOT NULL,
    computer text REFERENCES computers (name) ON DELETE RESTRICT,
    requested_computer text REFERENCES computers (name) ON DELETE RESTRICT,
    logins jsonb NOT NULL CHECK (jsonb_typeof(logins) = 'array'),
    state text NOT NULL
      CHECK (state IN ('pending', 'loading', 'ready', 'ending', 'ended', 'failed')),
    starts_at timestamptz NOT NULL,
    ends_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    ready_at timestamptz,
    access jsonb CHECK (access IS NULL OR jsonb_typeof(access) = 'array'),
    connected_at timestamptz,
    ended_at timestamptz,
    end_reason text,
    FOREIGN KEY (image, revision) REFERENCES revisions (image, revision) ON DELETE RESTRICT,
    CHECK (ends_at > starts_at),
    CHECK (ended_at IS NULL OR state IN ('ended', 'failed'))
  )`,
  `CREATE INDEX reservations_computer_idx ON reservations (computer, starts_at)
    WHERE computer IS NOT NULL`,
  `CREATE INDEX reservations_open_idx ON reservations (state)
    WHERE state NOT IN ('ended', 'failed')`,
  `CREATE TABLE reservation_secrets (
    reservation_id uuid NOT NULL REFERENCES reservations (id) ON DELETE CASCADE,
    login text NOT NULL,
    ciphertext bytea NOT NULL CHECK (octet_length(ciphertext) >= 28),
    PRIMARY KEY (reservation_id, login)
  )`,
  `CREATE TABLE host_keys (
    host_id text PRIMARY KEY CHECK (host_id <> ''),
    public_keys jsonb NOT NULL CHECK (jsonb_typeof(public_keys) = 'array'),
    updated_at timestamptz NOT NULL DEFAULT now()
  )`,
  `CREATE TABLE events (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    reservation_id uuid REFERENCES reservations (id) ON DELETE CASCADE,
    computer text,
    kind text NOT NULL CHECK (kind <> ''),
    step text,
    duration_ms bigint CHECK (duration_ms >= 0),
    outcome text CHECK (outcome IN ('ok', 'failed', 'cancelled')),
    error_code text CHECK (error_code ~ '^VLAB_ERR_[A-Z0-9]+_[A-Z0-9_]+$'),
    message text
  )`,
  `CREATE INDEX events_reservation_idx ON events (reservation_id, id)
    WHERE reservation_id IS NOT NULL`,
  `CREATE INDEX events_computer_idx ON events (computer, id) WHERE computer IS NOT NULL`,
  `CREATE TABLE managers (
    id text PRIMARY KEY CHECK (id <> ''),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
  )`,
];

/** The first schema: every table of `LabDatabase` (schema.ts). */
export const initial: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
  },
};
