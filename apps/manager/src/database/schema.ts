import type { PowerState, UserAccess } from '@vlab/core';
import type { ColumnType, Generated } from 'kysely';

/**
 * A `timestamptz` column filled in by the database (`DEFAULT now()`): read as a `Date`, optional
 * on insert.
 * @public
 */
export type DefaultTimestamp = ColumnType<Date, Date | undefined, Date>;

/** A nullable `timestamptz` column. @public */
export type NullableTimestamp = ColumnType<Date | null, Date | null | undefined, Date | null>;

/**
 * A `jsonb` column: read as the parsed value, written as JSON text (`JSON.stringify`), because
 * `pg` would send a JavaScript array as a PostgreSQL array, not as JSON.
 * @public
 */
export type JsonColumn<T> = ColumnType<T, string, string>;

/** A `jsonb` column with a default (`'[]'`): optional on insert. @public */
export type JsonColumnWithDefault<T> = ColumnType<T, string | undefined, string>;

/** A user's role. @public */
export type UserRole = 'admin' | 'user';
/** Every {@link UserRole}. @public */
export const USER_ROLES: readonly UserRole[] = ['admin', 'user'];

/** Where a computer is in its life cycle. @public */
export type ComputerState =
  | 'available'
  | 'loading'
  | 'reserved'
  | 'reclaiming'
  | 'maintenance'
  | 'failed';
/** Every {@link ComputerState}. @public */
export const COMPUTER_STATES: readonly ComputerState[] = [
  'available',
  'loading',
  'reserved',
  'reclaiming',
  'maintenance',
  'failed',
];

/** Whether a new revision of an image is tested before production: automatically, by hand, or not. @public */
export type NewRevisionTest = 'auto' | 'manual' | 'off';
/** Every {@link NewRevisionTest}. @public */
export const NEW_REVISION_TESTS: readonly NewRevisionTest[] = ['auto', 'manual', 'off'];

/** Where an image revision is in its life cycle. @public */
export type RevisionState = 'capturing' | 'testing' | 'production' | 'retired' | 'failed';
/** Every {@link RevisionState}. @public */
export const REVISION_STATES: readonly RevisionState[] = [
  'capturing',
  'testing',
  'production',
  'retired',
  'failed',
];

/**
 * Where a reservation is: waiting for its start (`pending`), its computer being loaded
 * (`loading`), handed to its users (`ready`), being reclaimed (`ending`), over (`ended`), or given
 * up (`failed`). `ended_at` is set only in the last two.
 * @public
 */
export type ReservationState = 'pending' | 'loading' | 'ready' | 'ending' | 'ended' | 'failed';
/** Every {@link ReservationState}. @public */
export const RESERVATION_STATES: readonly ReservationState[] = [
  'pending',
  'loading',
  'ready',
  'ending',
  'ended',
  'failed',
];

/** How a recorded step ended. @public */
export type EventOutcome = 'ok' | 'failed' | 'cancelled';
/** Every {@link EventOutcome}. @public */
export const EVENT_OUTCOMES: readonly EventOutcome[] = ['ok', 'failed', 'cancelled'];

/** Table `users`: who may reserve computers. @public */
export interface UsersTable {
  /** Primary key; a login as `loginProblem` of `@vlab/core` accepts (a CHECK repeats the pattern). */
  login: string;
  /** Name shown in lists; `''` when none. */
  display_name: ColumnType<string, string | undefined, string>;
  /** OpenSSH one-line public keys. */
  ssh_keys: JsonColumnWithDefault<string[]>;
  /** `admin` or `user`. */
  role: UserRole;
  /** IP addresses and CIDR prefixes the user may connect from; empty means anywhere. */
  allow_from: JsonColumnWithDefault<string[]>;
  /** When the user was added. */
  created_at: DefaultTimestamp;
}

/** Table `computers`: the lab's machines and their state. @public */
export interface ComputersTable {
  /** Primary key; the computer's name in the config. */
  name: string;
  /** The provisioner (module name) that loads it. */
  provisioner: string;
  /** Its life-cycle state. */
  state: ComputerState;
  /** Why it is in maintenance, if it is. */
  maintenance_reason: ColumnType<string | null, string | null | undefined, string | null>;
  /**
   * An admin's reason for maintenance asked while the computer was busy: it goes to maintenance
   * with it instead of becoming `available` once its work ends.
   */
  maintenance_requested: ColumnType<string | null, string | null | undefined, string | null>;
  /** The admin's reload that holds it (`reload:…`, a workflow id), while that reload runs. */
  reload_request: ColumnType<string | null, string | null | undefined, string | null>;
  /** Its power as last read (`unknown` until read). */
  power: ColumnType<PowerState, PowerState | undefined, PowerState>;
  /** When the power was last read. */
  power_checked_at: NullableTimestamp;
  /** Health checks failed in a row. */
  failed_checks: ColumnType<number, number | undefined, number>;
  /** The image on its disk, if known (with `loaded_revision`, a reference to `revisions`). */
  loaded_image: ColumnType<string | null, string | null | undefined, string | null>;
  /** The revision on its disk, if known. */
  loaded_revision: ColumnType<number | null, number | null | undefined, number | null>;
  /**
   * Whether a reservation had the computer since its load (`os.reserve` taints it): a tainted
   * computer is always loaded again before anyone else gets it.
   */
  tainted: ColumnType<boolean, boolean | undefined, boolean>;
  /** When the row last changed. */
  updated_at: DefaultTimestamp;
}

/** Table `images`: the images users can reserve. @public */
export interface ImagesTable {
  /** Primary key; the image name in the store. */
  name: string;
  /** OS family (`linux`, `windows`). */
  os_family: string;
  /** The login of the user who owns it (a user owning images cannot be removed), or none. */
  owner: ColumnType<string | null, string | null | undefined, string | null>;
  /** How a new revision is tested. Default `auto`. */
  new_revision_test: ColumnType<NewRevisionTest, NewRevisionTest | undefined, NewRevisionTest>;
}

/** Table `revisions`: the revisions of each image. Primary key `(image, revision)`. @public */
export interface RevisionsTable {
  /** The image (`images.name`). */
  image: string;
  /** The revision number, 1 or more. */
  revision: number;
  /** Its life-cycle state; `testing` and `production` need `sha256` and `size_bytes`. */
  state: RevisionState;
  /** SHA-256 of the disk image, 64 lower-case hex digits, once known. */
  sha256: ColumnType<string | null, string | null | undefined, string | null>;
  /** Bytes of the disk image (`bigint`; exact up to 2^53). */
  size_bytes: ColumnType<number | null, number | null | undefined, number | null>;
  /** Bytes it takes in the store (`bigint`; exact up to 2^53). */
  stored_bytes: ColumnType<number | null, number | null | undefined, number | null>;
  /** The computer it was captured from, if it was. */
  captured_from: ColumnType<string | null, string | null | undefined, string | null>;
  /**
   * When `provisioner.capture` was called for it: a capture that began is never started again
   * (a re-run after a crash fails it and removes what it wrote).
   */
  capture_started_at: NullableTimestamp;
  /** The computer its test load runs or ran on (a `testing` revision is loaded there before it serves). */
  test_computer: ColumnType<string | null, string | null | undefined, string | null>;
  /** Why it failed, if it did. */
  failure: ColumnType<string | null, string | null | undefined, string | null>;
  /** When the row was made. */
  created_at: DefaultTimestamp;
}

/** Table `reservations`: who gets which image on which computer, when. @public */
export interface ReservationsTable {
  /** Primary key, a UUID made by the database. */
  id: Generated<string>;
  /** The caller's id of the request; unique, so a repeated request finds the first one. */
  request_id: string;
  /** The image (with `revision`, a reference to `revisions`). */
  image: string;
  /** The revision. */
  revision: number;
  /** The computer, once one is picked (`computers.name`). */
  computer: ColumnType<string | null, string | null | undefined, string | null>;
  /** The computer the request named, if it named one (only that computer serves it). */
  requested_computer: ColumnType<string | null, string | null | undefined, string | null>;
  /** The logins that get an account. */
  logins: JsonColumn<string[]>;
  /** Its state. */
  state: ReservationState;
  /** When it starts. */
  starts_at: ColumnType<Date, Date, Date>;
  /** When it ends (after `starts_at`). */
  ends_at: ColumnType<Date, Date, Date>;
  /** When the row was made. */
  created_at: DefaultTimestamp;
  /** When it ended (only in `ended` and `failed`). */
  ended_at: NullableTimestamp;
  /** When its computer was handed over (`ready`). */
  ready_at: NullableTimestamp;
  /** How each user connects, as `os.reserve` said (never a secret). */
  access: ColumnType<UserAccess[] | null, string | null | undefined, string | null>;
  /**
   * When a user was first seen connected (`os.userConnected`), or its `ready_at` when the OS
   * module cannot tell.
   */
  connected_at: NullableTimestamp;
  /** Why it ended (expired, cancelled, failed …). */
  end_reason: ColumnType<string | null, string | null | undefined, string | null>;
}

/**
 * Table `reservation_secrets`: a reservation's generated passwords, sealed with `seal` (never
 * stored in the clear). Primary key `(reservation_id, login)`; removed with the reservation.
 * @public
 */
export interface ReservationSecretsTable {
  /** The reservation (`reservations.id`). */
  reservation_id: string;
  /** The login the password is for. */
  login: string;
  /** Nonce, ciphertext and tag, as `seal` makes them. */
  ciphertext: Buffer;
}

/** Table `host_keys`: pinned SSH host keys, shared by every manager. @public */
export interface HostKeysTable {
  /** Primary key; the host id (`host`, or `[host]:port`). */
  host_id: string;
  /** OpenSSH one-line public keys. */
  public_keys: JsonColumn<string[]>;
  /** When the pins last changed. */
  updated_at: DefaultTimestamp;
}

/** Table `events`: what happened, step by step, for reports and debugging. @public */
export interface EventsTable {
  /** Primary key, increasing (`bigserial`). */
  id: Generated<number>;
  /** When it happened. */
  at: DefaultTimestamp;
  /** The reservation it belongs to (removed with it), if any. */
  reservation_id: ColumnType<string | null, string | null | undefined, string | null>;
  /** The computer it happened on, if any (kept when the computer is removed). */
  computer: ColumnType<string | null, string | null | undefined, string | null>;
  /** What kind of event (`load`, `capture`, `reservation.ready` …). */
  kind: string;
  /** The step, if the event is one step of an operation. */
  step: ColumnType<string | null, string | null | undefined, string | null>;
  /** How long it took, in ms. */
  duration_ms: ColumnType<number | null, number | null | undefined, number | null>;
  /** How it ended. */
  outcome: ColumnType<EventOutcome | null, EventOutcome | null | undefined, EventOutcome | null>;
  /** The `VLAB_ERR_…` code it failed with. */
  error_code: ColumnType<string | null, string | null | undefined, string | null>;
  /** A message for people; never a secret. */
  message: ColumnType<string | null, string | null | undefined, string | null>;
  /** A progress sample's figures, on events of kind `progress`. */
  progress: ColumnType<ProgressSample | null, string | null | undefined, string | null>;
  /** The transaction that recorded it (`xid8`, set by the database). */
  tx: ColumnType<string, never, never>;
}

/** How far an operation's phase is: an event of kind `progress`. @public */
export interface ProgressSample {
  /** What `done` and `total` count. */
  readonly unit: 'bytes' | 'steps';
  /** How much is done. */
  readonly done: number;
  /** How much there is in all, when known. */
  readonly total: number | null;
  /** Units per second over the last few seconds, when known. */
  readonly ratePerSecond: number | null;
  /** Seconds until done at that rate, when known. */
  readonly etaSeconds: number | null;
}

/** Table `managers`: the manager processes sharing the database, and when each was last alive. @public */
export interface ManagersTable {
  /** Primary key; the manager's id. */
  id: string;
  /** Its last heartbeat. */
  heartbeat_at: DefaultTimestamp;
}

/**
 * Table `api_tokens`: the HTTP API's bearer tokens. Only a token's SHA-256 hash is kept; the token
 * itself is shown once, when it is issued.
 * @public
 */
export interface ApiTokensTable {
  /** Primary key; a UUID, also the token's public part. */
  id: string;
  /** The user the token acts for; removing the user removes their tokens. */
  login: string;
  /** What the token is for, 1 to 100 characters. */
  name: string;
  /** SHA-256 of the whole token. */
  hash: Buffer;
  /** When it was issued. */
  created_at: DefaultTimestamp;
  /** When it last authenticated a request (updated at most once a minute). */
  last_used_at: NullableTimestamp;
}

/** The manager's database, for `Kysely<LabDatabase>`. Column names are the SQL ones. @public */
export interface LabDatabase {
  /** {@inheritDoc UsersTable} */
  users: UsersTable;
  /** {@inheritDoc ComputersTable} */
  computers: ComputersTable;
  /** {@inheritDoc ImagesTable} */
  images: ImagesTable;
  /** {@inheritDoc RevisionsTable} */
  revisions: RevisionsTable;
  /** {@inheritDoc ReservationsTable} */
  reservations: ReservationsTable;
  /** {@inheritDoc ReservationSecretsTable} */
  reservation_secrets: ReservationSecretsTable;
  /** {@inheritDoc HostKeysTable} */
  host_keys: HostKeysTable;
  /** {@inheritDoc EventsTable} */
  events: EventsTable;
  /** {@inheritDoc ManagersTable} */
  managers: ManagersTable;
  /** {@inheritDoc ApiTokensTable} */
  api_tokens: ApiTokensTable;
}
